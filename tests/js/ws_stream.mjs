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
// Exits once stdout has taken everything written: output to a pipe is asynchronous, and
// process.exit() would cut a long last line.
const exit = () => process.stdout.write('', () => process.exit(0));

let seen = 0;
const socket = new WebSocket(url);
socket.on('open', () => {
  print({ open: true });
  if (mode === 'pause') socket._socket.pause();
});
socket.on('unexpected-response', (req, res) => {
  print({ error: 'refused', status: res.statusCode });
  exit();
});
socket.on('message', (data) => {
  process.stdout.write(data.toString() + '\n');
  if (++seen >= count) {
    socket.close(1000);
    exit();
  }
});
socket.on('close', (code) => {
  print({ close: true, code });
  exit();
});
socket.on('error', (e) => print({ error: e.message }));
