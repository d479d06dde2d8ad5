// Watches orders live, as a browser or a partner's service would, with npm's clients
// (scripts/setup.sh test installs them in tests/js; NODE_PATH=tests/js/node_modules):
//
//   node watch.cjs ws ws://localhost:8080/orders/live?subject=o-3 N
//       prints the first N messages of the order stream's WebSocket mode
//   node watch.cjs graphql ws://localhost:8080/graphql 'subscription { orderStatus(id: "o-3") { status } }' N
//       subscribes with graphql-ws (protocol graphql-transport-ws) and prints the first N results
//
// Ends after N, or after 10 s with what it saw.
const [mode, url, ...rest] = process.argv.slice(2);
const WebSocket = require('ws');
setTimeout(() => process.exit(0), 10000).unref();

if (mode === 'ws') {
  let left = Number(rest[0] || 1);
  const ws = new WebSocket(url);
  ws.on('message', (data) => {
    console.log(data.toString());
    if (--left === 0) ws.close();
  });
  ws.on('close', () => process.exit(0));
  ws.on('error', (e) => { console.error(e.message); process.exit(1); });
} else if (mode === 'graphql') {
  const { createClient } = require('graphql-ws');
  const [query, n] = rest;
  let left = Number(n || 1);
  const client = createClient({ url, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
  const stop = client.subscribe({ query }, {
    next: (result) => {
      console.log(JSON.stringify(result));
      if (--left === 0) { stop(); client.dispose(); }
    },
    error: (e) => { console.error(JSON.stringify(e.message ? e.message : e)); process.exit(1); },
    complete: () => process.exit(0),
  });
} else {
  console.error('usage: node watch.cjs ws URL [N] | node watch.cjs graphql URL QUERY [N]');
  process.exit(2);
}
