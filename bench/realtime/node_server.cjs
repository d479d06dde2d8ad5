// The baseline: Node's `ws` server doing the same job as the host's stream: it holds the
// clients of /ticks and sends each POST /publish body to all of them (in memory, nothing
// stored, unlike the host, which commits the event first). Usage: PORT=N node node_server.cjs
const http = require('http');
const { WebSocketServer } = require('ws');

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/publish') { res.writeHead(404).end(); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const data = Buffer.concat(chunks).toString();
    const event = JSON.stringify({ type: 'bench.tick', data });
    for (const ws of wss.clients) ws.send(event);
    res.writeHead(204).end();
  });
});
const wss = new WebSocketServer({ server, path: '/ticks', perMessageDeflate: false });
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
