// Subscribes to a Gust GraphQL endpoint with npm's graphql-ws client (over npm's ws): clients
// nobody here wrote speak graphql-transport-ws to the host. Prints one JSON line per thing
// seen:
//   {"connected":true}   {"ready":true}   (every subscribe has reached the host: see below)
//   {"sub":I,"next":payload}   {"sub":I,"error":[...]}   {"sub":I,"complete":true}
//   {"sub":I,"unsubscribed":true}   (after COUNT events the client completes it itself)
//   {"closed":true,"code":N}
//   node graphql_ws_subscribe.mjs URL SUBSCRIPTIONS_JSON [RETRIES]
// SUBSCRIPTIONS_JSON: [{"query": "...", "variables": {...}, "count": N}, ...]. Exits once
// every subscription has ended, or the connection closes (with RETRIES > 0, a close the
// client retries is printed and the client reconnects and subscribes again, as graphql-ws
// does by default).
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const [url, specsText, retriesText] = process.argv.slice(2);
const retries = Number(retriesText ?? 0);
const specs = JSON.parse(specsText);
const print = (thing) => process.stdout.write(JSON.stringify(thing) + '\n');
const exit = () => process.stdout.write('', () => process.exit(0));

let pending = specs.length;
let subscribed = false;  // subscribeAll ran
let pingedAfterSubscribes = false;
let ready = false;
let client;
const finish = () => {
  if (--pending === 0) {
    client.dispose();
    exit();
  }
};
const subscribeAll = () => {
  specs.forEach((spec, sub) => {
    let seen = 0;
    let ended = false;
    const end = (line) => {
      if (ended) return;
      ended = true;
      print(line);
      finish();
    };
    const unsubscribe = client.subscribe(
      { query: spec.query, variables: spec.variables ?? {} },
      {
        next: (payload) => {
          if (ended) return;
          print({ sub, next: payload });
          if (++seen >= (spec.count ?? Infinity)) {
            unsubscribe();  // sends "complete" to the host
            end({ sub, unsubscribed: true });
          }
        },
        error: (e) => end({ sub, error: Array.isArray(e) ? e : { message: String(e?.reason ?? e) } }),
        complete: () => end({ sub, complete: true }),
      },
    );
  });
};

client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: retries,
  retryWait: async () => new Promise((resolve) => setTimeout(resolve, 100)),
  // The host handles a connection's messages in order: once a ping sent after the subscribes
  // (a later timer than their sends) is answered, the host has started every subscription.
  keepAlive: 50,
  on: {
    connected: () => {
      print({ connected: true });
      if (subscribed) {
        // A reconnect: graphql-ws subscribes the live ones again; "ready" is told again.
        pingedAfterSubscribes = false;
        ready = false;
        return;
      }
      subscribeAll();
      subscribed = true;
    },
    ping: (received) => {
      if (!received && subscribed && !pingedAfterSubscribes) pingedAfterSubscribes = true;
    },
    pong: (received) => {
      if (received && pingedAfterSubscribes && !ready) {
        ready = true;
        print({ ready: true });
      }
    },
    closed: (event) => {
      print({ closed: true, code: event?.code });
      if (retries === 0) exit();
    },
  },
});
