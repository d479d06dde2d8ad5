// Reads a Gust stream over a WebSocket with npm's ws (a client nobody here wrote), printing
// one JSON line per thing seen: {"open":true}, each message as it came (already JSON), then
// {"close",code} or {"error"}. Exits 0 after `count` messages, or when the socket closes.
//   node ws_stream.mjs URL COUNT [PAUSE]
// PAUSE: "pause" stops reading after the opening (the socket's receive side is paused), to
// play a client too slow for the stream.
import WebSocket from 'ws';

const [url, countText, mode = ''] = process.argv.slice(2);
const count = Number(countText);
const print = (thing) => process.stdout.write(JSON.stringify(thing) + '\n');

let seen = 0;
const socket = new WebSocket(url);
socket.on('open', () => {
  print({ open: true });
  if (mode === 'pause') socket._socket.pause();
});
socket.on('unexpected-response', (req, res) => {
  print({ error: 'refused', status: res.statusCode });
  process.exit(0);
});
socket.on('message', (data) => {
  process.stdout.write(data.toString() + '\n');
  if (++seen >= count) {
    socket.close(1000);
    process.exit(0);
  }
});
socket.on('close', (code) => {
  print({ close: true, code });
  process.exit(0);
});
socket.on('error', (e) => print({ error: e.message }));
