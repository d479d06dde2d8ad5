// Plain Node.js http peer: fixed body, keep-alive. Port from $PORT.
const http = require('http');
const body = Buffer.from('hello\n');
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
