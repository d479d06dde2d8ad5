// Holds N idle WebSocket clients on URL, then measures one fan-out: it POSTs to PUBLISH_URL
// and times until every client has received the event. Prints one JSON line per phase, and
// waits for a line on stdin after "idle" and after "fanout" (the script measures the server
// then), before it goes on and, last, drops every client at once.
// Usage: node clients.cjs WS_URL PUBLISH_URL N [ROUNDS]
const WebSocket = require('ws');
const http = require('http');

const [url, publishUrl, nText, roundsText] = process.argv.slice(2);
const n = Number(nText);
const rounds = Number(roundsText || 5);
const sockets = [];
let waiting = 0;
let onAllReceived = null;

function connectAll() {
  return new Promise((resolve, reject) => {
    let opened = 0;
    let started = 0;
    const inFlightMax = 200;  // connects at once, so the listener's backlog never overflows
    const next = () => {
      while (started < n && started - opened < inFlightMax) {
        started++;
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.on('open', () => {
          sockets.push(ws);
          if (++opened === n) resolve();
          else next();
        });
        ws.on('message', () => {
          if (--waiting === 0 && onAllReceived) onAllReceived();
        });
        ws.on('error', (e) => reject(new Error(`client ${started}: ${e.message}`)));
        ws.on('close', (code) => { if (onAllReceived !== 'done') reject(new Error(`a client was closed: ${code}`)); });
      }
    };
    next();
  });
}

function post(target, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`publish: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function fanOutOnce(i) {
  waiting = n;
  const received = new Promise((resolve) => { onAllReceived = resolve; });
  const t0 = process.hrtime.bigint();
  await post(publishUrl, JSON.stringify({ round: i }));
  await received;
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

(async () => {
  const t0 = process.hrtime.bigint();
  await connectAll();
  console.log(JSON.stringify({ phase: 'open', clients: n, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  // Idle for a moment, so the server has settled what each connection holds.
  await new Promise((r) => setTimeout(r, 2000));
  console.log(JSON.stringify({ phase: 'idle' }));
  await new Promise((r) => process.stdin.once('data', r));  // the script measured memory
  const times = [];
  for (let i = 0; i < rounds; i++) times.push(await fanOutOnce(i));
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ phase: 'fanout', rounds, median_ms: times[Math.floor(rounds / 2)], max_ms: times[rounds - 1] }));
  await new Promise((r) => process.stdin.once('data', r));  // the script read the server's figures
  onAllReceived = 'done';
  for (const ws of sockets) ws.terminate();
  process.exit(0);
})().catch((e) => { console.error(e.message); process.exit(1); });
