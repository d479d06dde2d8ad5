// Reads a Gust stream as Server-Sent Events with npm's eventsource (a client nobody here
// wrote), printing one JSON line per thing seen: {"open":true}, then {"id","type","data"}
// per event, or {"error","code"}. Exits 0 after `count` events.
//   node sse_stream.mjs URL COUNT TYPES [LAST_EVENT_ID|-] [KEY|-]
// TYPES: comma-separated event types to listen for (an SSE event with `event: T` reaches
// only listeners of T). LAST_EVENT_ID resumes after that id; KEY is sent as a Bearer token.
import { EventSource } from 'eventsource';

const [url, countText, typesText, lastEventId = '-', key = '-'] = process.argv.slice(2);
const count = Number(countText);
const print = (thing) => process.stdout.write(JSON.stringify(thing) + '\n');
// Exits once stdout has taken everything written: output to a pipe is asynchronous, and
// process.exit() would cut a long last line.
const exit = () => process.stdout.write('', () => process.exit(0));

const headers = {};
if (lastEventId !== '-') headers['Last-Event-ID'] = lastEventId;
if (key !== '-') headers['Authorization'] = `Bearer ${key}`;

let seen = 0;
const source = new EventSource(url, {
  // On a reconnection the client sends the Last-Event-ID it saw itself, which wins.
  fetch: (input, init) => fetch(input, { ...init, headers: { ...headers, ...init.headers } }),
});
source.addEventListener('open', () => print({ open: true }));
source.addEventListener('error', (e) => {
  print({ error: e.message ?? 'error', code: e.code ?? null });
  // A refusal (4xx) is final for the client; a dropped stream it would retry.
  if (e.code !== undefined && e.code >= 400) exit();
});
for (const type of typesText.split(',')) {
  source.addEventListener(type, (e) => {
    print({ id: e.lastEventId, type: e.type, data: e.data });
    if (++seen >= count) {
      source.close();
      exit();
    }
  });
}
