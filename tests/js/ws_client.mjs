// A WebSocket client driven by a command file, for the integration tests: npm's `ws`, a
// client nobody here wrote, talks to the host.
//
//   node ws_client.mjs URL COMMAND_FILE [--protocol P] [--header "Name: value"]...
//
// It connects, then follows COMMAND_FILE, which the test appends JSON lines to:
//   {"send": "text"}  {"send_binary": "hex"}  {"fragments": ["a", "b"]} (one text message
//   sent as several frames)  {"ping": "data"}  {"close": [code, "reason"]}
// and prints one JSON line per thing it sees:
//   {"event":"open","id":<X-Gust-Connection-Id>,"protocol":...,"room":<X-Room>}
//   {"event":"refused","status":N,"body":"..."}   (the upgrade was answered without a 101)
//   {"event":"message","data":"...","binary":false}   (binary data as hex)
//   {"event":"pong","data":"..."}   {"event":"close","code":N,"reason":"..."}
// It exits once the connection is closed or refused.
import fs from 'node:fs';
import WebSocket from 'ws';

const [url, commandFile, ...rest] = process.argv.slice(2);
const protocols = [];
const headers = {};
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === '--protocol') protocols.push(rest[i + 1]);
  if (rest[i] === '--header') {
    const at = rest[i + 1].indexOf(':');
    headers[rest[i + 1].slice(0, at).trim()] = rest[i + 1].slice(at + 1).trim();
  }
}

const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const ws = new WebSocket(url, protocols, { headers });
let upgradeHeaders = {};
let done = false;
let read = 0;
let timer = null;

ws.on('upgrade', (res) => { upgradeHeaders = res.headers; });
ws.on('unexpected-response', (req, res) => {
  let body = '';
  res.on('data', (chunk) => { body += chunk; });
  res.on('end', () => {
    print({ event: 'refused', status: res.statusCode, body, upgrade: res.headers['upgrade'] ?? null });
    process.exit(0);
  });
});
ws.on('open', () => {
  print({ event: 'open', id: upgradeHeaders['x-gust-connection-id'] ?? null, protocol: ws.protocol,
          room: upgradeHeaders['x-room'] ?? null });
  timer = setInterval(follow, 20);
});
ws.on('message', (data, binary) => {
  print({ event: 'message', data: binary ? Buffer.from(data).toString('hex') : data.toString(), binary });
});
ws.on('pong', (data) => print({ event: 'pong', data: data.toString() }));
ws.on('close', (code, reason) => {
  print({ event: 'close', code, reason: reason.toString() });
  done = true;
  if (timer) clearInterval(timer);
  process.exit(0);
});
ws.on('error', (e) => print({ event: 'error', message: String(e.message) }));

// Runs the commands appended to the file since the last look.
function follow() {
  if (done || !fs.existsSync(commandFile)) return;
  const text = fs.readFileSync(commandFile, 'utf8');
  const lines = text.slice(read).split('\n');
  const complete = lines.slice(0, -1);
  read += complete.reduce((n, l) => n + l.length + 1, 0);
  for (const line of complete) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    if ('send' in c) ws.send(c.send);
    if ('send_binary' in c) ws.send(Buffer.from(c.send_binary, 'hex'), { binary: true });
    if ('fragments' in c) {
      c.fragments.forEach((part, i) => ws.send(part, { fin: i === c.fragments.length - 1 }));
    }
    if ('ping' in c) ws.ping(c.ping);
    if ('close' in c) ws.close(c.close[0], c.close[1]);
  }
}
