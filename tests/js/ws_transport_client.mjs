// A WebSocket client nobody here wrote (npm's ws) driving the host's transport for
// tests/unit/websocket_transport_test.cc. Usage: node ws_transport_client.mjs URL SCENARIO.
// Prints one JSON line per thing it sees, and ends when the connection closes.
import WebSocket from 'ws';

const [url, scenario] = process.argv.slice(2);
const print = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const protocols = scenario === 'protocol' ? ['first', 'chat'] : [];
const ws = new WebSocket(url, protocols);

ws.on('open', () => {
  print({ open: true, protocol: ws.protocol });
  if (scenario === 'echo') {
    ws.send('hello');
    ws.send(Buffer.from([1, 2, 3]));
    // One message in three fragments.
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted', { fin: true });
    ws.ping('are you there');
  } else if (scenario === 'server-close') {
    ws.send('close-me');
  } else if (scenario === 'oversize') {
    ws.send('x'.repeat(4096));
  } else if (scenario === 'slow') {
    // Stop reading, ask for a flood, and read again once the host has given up on us.
    ws._socket.pause();
    ws.send('flood');
    setTimeout(() => ws._socket.resume(), 1500);
  } else if (scenario === 'protocol') {
    ws.close(1000, 'done');
  }
  // 'idle': say nothing and wait to be closed.
});
ws.on('message', (data, isBinary) => {
  // A long message (the flood) is told by its length: the test needs no megabytes of it.
  if (data.length > 1024) print({ message_bytes: data.length });
  else print({ message: isBinary ? [...data] : data.toString(), binary: isBinary });
  if (scenario === 'echo' && data.toString() === 'fragmented') ws.close(4000, 'client says bye');
});
ws.on('pong', (data) => print({ pong: data.toString() }));
ws.on('close', (code, reason) => {
  // No process.exit(): it could drop lines still queued for a piped stdout.
  print({ close: code, reason: reason.toString() });
});
ws.on('error', (err) => print({ error: err.message }));
