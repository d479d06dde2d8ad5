// The Gust console: one page, views chosen by the URL's fragment, data from the admin API
// (docs/admin-api.md) with the session: its cookie, and its token, which the login answer
// left in this origin's storage (login.js) and every call sends in X-Gust-Console-Token. Everything a function wrote (log lines, error
// texts, queue bodies) reaches the page only as text: the DOM is built with createElement and
// textContent, never innerHTML, so no data can become markup (docs/console.md).
'use strict';

const view = document.getElementById('view');
const statusLine = document.getElementById('status');
if (!localStorage.getItem('gust-console-token')) location.assign('/login');
// The current view's timers and long polls, stopped when the view changes.
let generation = 0;

// el('td', {class: 'num'}, 'text', child...): strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function link(hash, text) { return el('a', { href: hash }, text); }

function table(headings, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headings.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.length ? rows : [el('tr', {}, el('td', { colspan: headings.length, class: 'muted' }, 'none'))]));
}

function num(value) { return el('td', { class: 'num' }, value === undefined || value === null ? '' : value); }

function show(...nodes) { view.replaceChildren(...nodes); }

function setStatus(text) { statusLine.textContent = text || ''; }

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(method, path, { body, text } = {}) {
  // Read at each call: a login in another tab replaces it.
  const headers = { 'X-Gust-Console-Token': localStorage.getItem('gust-console-token') || '' };
  const response = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  if (response.status === 401) {
    location.assign('/login');
    throw new ApiError(401, 'the session ended; log in again');
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not problem+json */ }
    throw new ApiError(response.status, detail);
  }
  return text ? response.text() : response.json();
}

// Runs `step` now and every `ms` while the view that started it is shown.
function every(ms, step) {
  const mine = generation;
  const run = async () => {
    if (mine !== generation) return;
    try {
      await step();
      setStatus('');
    } catch (e) {
      setStatus(e.message);
    }
    if (mine === generation) setTimeout(run, ms);
  };
  run();
}

function current(mine) { return mine === generation; }

function params(query) { return new URLSearchParams(query || ''); }

function when(iso) { return iso ? iso.replace('T', ' ').replace('Z', '') : ''; }

// ---- Apps ----------------------------------------------------------------------------

function triggersOf(app) {
  const out = [];
  for (const r of app.routes || []) out.push(`http ${r.methods.join(',')} ${r.path} → ${r.function}`);
  for (const t of app.timers || []) out.push(`timer ${t.schedule} → ${t.function}`);
  for (const q of app.queues || []) out.push(`queue ${q.queue} → ${q.function}`);
  return out.map((line) => el('div', {}, line));
}

function appsView() {
  const body = el('div');
  show(el('h1', {}, 'Apps'), body);
  every(2000, async () => {
    const answer = await api('GET', '/v1/apps');
    const rows = answer.apps.map((app) => {
      const p = app.pool || {};
      return el('tr', { 'data-app': app.name },
        el('td', {}, link(`#/app/${encodeURIComponent(app.name)}`, app.name)),
        el('td', {}, app.version || app.source),
        el('td', {}, triggersOf(app)),
        num(p.starting), num(p.idle), num(p.busy), num(p.pending), num(p.cold_starts),
        el('td', { class: p.crashes ? 'num bad' : 'num' }, p.crashes),
        el('td', {}, link(`#/invocations?app=${encodeURIComponent(app.name)}`, 'invocations'), ' ',
          link(`#/logs/${encodeURIComponent(app.name)}`, 'logs')));
    });
    body.replaceChildren(table(['App', 'Version', 'Routes and triggers', 'Starting', 'Idle', 'Busy', 'Pending',
      'Cold starts', 'Crashes', ''], rows));
  });
}

function appView(name) {
  const body = el('div');
  show(el('h1', {}, name), body);
  const path = `/v1/apps/${encodeURIComponent(name)}`;
  every(2000, async () => {
    const app = await api('GET', path);
    const p = app.pool || {};
    const versions = (app.versions || []).map((v) => el('tr', { 'data-version': v.version },
      el('td', {}, v.version), el('td', {}, when(v.created_at)), num(v.size_bytes),
      el('td', {}, v.active ? 'active' : el('button', { class: 'rollback', onclick: () => rollback(name, v.version) }, 'Roll back to this'))));
    body.replaceChildren(
      el('p', {}, link(`#/invocations?app=${encodeURIComponent(name)}`, 'Invocations'), ' · ',
        link(`#/logs/${encodeURIComponent(name)}`, 'Logs')),
      el('h2', {}, 'Pool'),
      table(['Starting', 'Idle', 'Busy', 'Stopping', 'Pending', 'Cold starts', 'Last cold start ms', 'Crashes', 'Start failures'],
        [el('tr', {}, num(p.starting), num(p.idle), num(p.busy), num(p.stopping), num(p.pending), num(p.cold_starts),
          num(typeof p.last_cold_start_ms === 'number' ? p.last_cold_start_ms.toFixed(1) : ''), num(p.crashes), num(p.start_failures))]),
      p.last_start_error ? el('p', { class: 'bad' }, 'Last start error: ', el('code', {}, p.last_start_error)) : '',
      el('h2', {}, 'Routes'),
      table(['Methods', 'Path', 'Function'], (app.routes || []).map((r) => el('tr', {},
        el('td', {}, r.methods.join(', ')), el('td', {}, el('code', {}, r.path)), el('td', {}, r.function)))),
      el('h2', {}, 'Timers'), timersTable((app.timers || []).map((t) => ({ app: name, ...t }))),
      el('h2', {}, 'Queues consumed'),
      table(['Queue', 'Function', 'Batch size', 'Max attempts'], (app.queues || []).map((q) => el('tr', {},
        el('td', {}, link(`#/queue/${encodeURIComponent(q.queue)}`, q.queue)), el('td', {}, q.function),
        num(q.batch_size), num(q.max_attempts)))),
      el('h2', {}, 'Deploy history'),
      table(['Version', 'Deployed', 'Bytes', ''], versions));
  });
}

async function rollback(app, version) {
  if (!confirm(`Roll ${app} back to ${version}?`)) return;
  try {
    await api('POST', `/v1/apps/${encodeURIComponent(app)}/rollback`, { body: JSON.stringify({ version }) });
    setStatus('');
  } catch (e) {
    setStatus(`rollback failed: ${e.message}`);
  }
}

// ---- Invocations ---------------------------------------------------------------------

// The API filters by app, function and failure; trigger, outcome and time are applied here
// to its newest 1000 records.
function invocationsView(query) {
  const q = params(query);
  const field = (name, label, options) => el('label', {}, label, options
    ? el('select', { name }, options.map((o) => el('option', { value: o, selected: q.get(name) === o }, o || 'any')))
    : el('input', { name, value: q.get(name) || '', size: 14 }));
  const form = el('form', { class: 'filters', onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    location.hash = `#/invocations?${next}`;
  } },
  field('app', 'App'), field('function', 'Function'),
  field('trigger', 'Trigger', ['', 'http', 'async', 'timer', 'queue']),
  field('outcome', 'Outcome', ['', 'ok', 'error', 'crashed', 'timeout', 'overloaded', 'unavailable']),
  field('since', 'Since (minutes ago)'),
  el('button', { type: 'submit' }, 'Filter'));
  const body = el('div');
  show(el('h1', {}, 'Invocations'), form, body);
  // The newest 200 unless the page filters further, then as many as the API gives.
  const filtered = q.get('trigger') || q.get('outcome') || q.get('since');
  const apiQuery = new URLSearchParams({ limit: filtered ? '1000' : '200' });
  if (q.get('app')) apiQuery.set('app', q.get('app'));
  if (q.get('app') && q.get('function')) apiQuery.set('function', q.get('function'));
  every(2000, async () => {
    const answer = await api('GET', `/v1/invocations?${apiQuery}`);
    const since = Number(q.get('since')) > 0 ? Date.now() - Number(q.get('since')) * 60000 : 0;
    const shown = answer.invocations.filter((r) => (!q.get('trigger') || r.trigger === q.get('trigger')) &&
      (!q.get('outcome') || r.outcome === q.get('outcome')) && (!since || Date.parse(r.started_at) >= since)).slice(0, 200);
    body.replaceChildren(table(['Started', 'App', 'Function', 'Trigger', 'Outcome', 'ms', 'Cold', 'Error'],
      shown.map((r) => el('tr', { 'data-invocation': r.id },
        el('td', {}, link(`#/invocation/${encodeURIComponent(r.id)}`, when(r.started_at))),
        el('td', {}, r.app), el('td', {}, r.function), el('td', {}, r.trigger),
        el('td', { class: r.outcome === 'ok' ? '' : 'bad' }, r.outcome),
        num(r.duration_ms === undefined ? '' : r.duration_ms.toFixed(2)), el('td', {}, r.cold_start ? 'yes' : ''),
        el('td', {}, el('pre', {}, r.error || ''))))));
  });
}

async function invocationView(id) {
  const body = el('div');
  show(el('h1', {}, 'Invocation ', el('code', {}, id)), body);
  const mine = generation;
  const record = await api('GET', `/v1/invocations/${encodeURIComponent(id)}`);
  if (!current(mine)) return;
  const fields = ['app', 'function', 'trigger', 'outcome', 'status', 'started_at', 'duration_ms', 'cold_start',
    'cold_start_ms', 'attempt', 'attempts', 'trace_id', 'error'];
  body.replaceChildren(
    table(['Field', 'Value'], fields.filter((f) => record[f] !== undefined && record[f] !== null && record[f] !== '')
      .map((f) => el('tr', {}, el('th', {}, f), el('td', {}, el('pre', { 'data-field': f }, String(record[f])))))),
    el('h2', {}, 'Log lines'),
    logBox(record.logs || []));
}

// ---- Logs ----------------------------------------------------------------------------

function logLine(line) {
  const where = [line.function, line.invocation_id ? line.invocation_id.slice(0, 8) : ''].filter(Boolean).join(' ');
  return el('div', { class: line.level || '' }, `${when(line.ts)} ${line.stream}${where ? ' ' + where : ''}  ${line.text}`);
}

function logBox(lines) { return el('div', { class: 'log', id: 'log' }, lines.map(logLine)); }

async function logsView(app) {
  if (!app) {
    const answer = await api('GET', '/v1/apps');
    show(el('h1', {}, 'Logs'), el('ul', {}, answer.apps.map((a) =>
      el('li', {}, link(`#/logs/${encodeURIComponent(a.name)}`, a.name)))));
    return;
  }
  const follow = el('input', { type: 'checkbox', id: 'follow', checked: true });
  const box = logBox([]);
  show(el('h1', {}, 'Logs of ', app), el('p', {}, el('label', {}, follow, ' Follow')), box);
  const mine = generation;
  let after = 0;
  // Long polls (wait=20000): the host answers as soon as a line arrives.
  while (current(mine)) {
    try {
      const wait = follow.checked && after ? 20000 : 0;
      const answer = await api('GET', `/v1/apps/${encodeURIComponent(app)}/logs?after=${after}&limit=1000&wait=${wait}`);
      if (!current(mine)) return;
      box.append(...answer.lines.map(logLine));
      while (box.childElementCount > 2000) box.firstElementChild.remove();
      after = answer.next;
      if (follow.checked) box.scrollTop = box.scrollHeight;
      setStatus('');
    } catch (e) {
      setStatus(e.message);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    if (!follow.checked) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// ---- Queues --------------------------------------------------------------------------

async function queuesView() {
  const body = el('div');
  show(el('h1', {}, 'Queues'), body, el('h2', {}, 'Topics'), el('div', { id: 'topics' }));
  every(2000, async () => {
    const [queues, topics] = await Promise.all([api('GET', '/v1/queues'), api('GET', '/v1/topics')]);
    body.replaceChildren(table(['Queue', 'Ready', 'In flight', 'Delayed', 'Dead'], queues.queues.map((q) =>
      el('tr', { 'data-queue': q.name }, el('td', {}, link(`#/queue/${encodeURIComponent(q.name)}`, q.name)),
        num(q.depth), num(q.in_flight), num(q.delayed),
        el('td', { class: q.dead ? 'num bad' : 'num' }, q.dead ? link(`#/queue/${encodeURIComponent(q.name + '.dead')}`, q.dead) : 0)))));
    document.getElementById('topics').replaceChildren(table(['Topic', 'Declared by', 'Subscriptions', 'Published'],
      topics.topics.map((t) => el('tr', {}, el('td', {}, link(`#/topic/${encodeURIComponent(t.name)}`, t.name)),
        el('td', {}, (t.declared_by || []).join(', ')), num(t.subscriptions), num(t.published)))));
  });
}

function topicView(name) {
  const body = el('div');
  show(el('h1', {}, 'Topic ', name), body);
  every(2000, async () => {
    const answer = await api('GET', `/v1/topics/${encodeURIComponent(name)}/subscriptions`);
    body.replaceChildren(table(['Subscriber', 'Queue', 'Backlog', 'In flight', 'Delayed', 'Dead'],
      answer.subscriptions.map((s) => el('tr', {}, el('td', {}, s.subscriber),
        el('td', {}, link(`#/queue/${encodeURIComponent(s.queue)}`, s.queue)),
        num(s.backlog), num(s.in_flight), num(s.delayed), num(s.dead)))));
  });
}

function queueView(name) {
  const body = el('div');
  const actions = el('p', {},
    name.endsWith('.dead') ? el('button', { id: 'redrive', onclick: () => act('POST', 'redrive', `Move every dead letter of ${name} back?`) }, 'Redrive') : '',
    ' ', el('button', { class: 'danger', id: 'purge', onclick: () => act('DELETE', 'messages', `Delete every message of ${name}?`) }, 'Purge'));
  show(el('h1', {}, 'Queue ', name), actions, body);
  const path = `/v1/queues/${encodeURIComponent(name)}`;
  async function act(method, what, question) {
    if (!confirm(question)) return;
    try {
      const answer = await api(method, `${path}/${what}`);
      setStatus('');
      body.prepend(el('p', { id: 'done' }, JSON.stringify(answer)));
    } catch (e) {
      setStatus(`${what} failed: ${e.message}`);
    }
  }
  const list = el('div');
  body.replaceChildren(list);
  every(2000, async () => {
    const answer = await api('GET', `${path}/messages?limit=100`);
    list.replaceChildren(table(['Id', 'State', 'Attempts', 'Enqueued', 'Headers', 'Body', 'Last error'],
      answer.messages.map((m) => el('tr', { 'data-message': m.id }, el('td', {}, el('code', {}, m.id)), el('td', {}, m.state),
        num(m.attempts), el('td', {}, when(m.enqueued_at)),
        el('td', {}, Object.entries(m.headers || {}).map(([k, v]) => el('div', {}, `${k}: ${v}`))),
        el('td', {}, el('pre', {}, m.body !== undefined ? m.body : `(base64) ${m.body_base64}`)),
        el('td', {}, el('pre', { class: 'bad' }, m.last_error || ''))))));
  });
}

// ---- Timers --------------------------------------------------------------------------

function timersTable(timers) {
  return table(['App', 'Function', 'Schedule', 'Time zone', 'Next fire', 'Runs', 'Failures', 'Skipped'],
    timers.map((t) => el('tr', {}, el('td', {}, t.app), el('td', {}, t.function), el('td', {}, el('code', {}, t.schedule)),
      el('td', {}, t.time_zone), el('td', {}, when(t.next)), num(t.runs), num(t.failures), num(t.skipped_overlap))));
}

function timersView() {
  const body = el('div');
  show(el('h1', {}, 'Timers'), body);
  every(2000, async () => {
    const answer = await api('GET', '/v1/apps');
    body.replaceChildren(timersTable(answer.apps.flatMap((a) => (a.timers || []).map((t) => ({ app: a.name, ...t })))));
  });
}

// ---- Charts --------------------------------------------------------------------------

// Prometheus text exposition: [{name, labels, value}], labels as an object.
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// The q-quantile of a cumulative histogram given as [[le, count]...] sorted by le.
function quantile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return null;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= q * total) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + (le - prevLe) * ((q * total - prevCount) / Math.max(count - prevCount, 1));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

const SVG = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// A line chart of `series` ([{name, points: [numbers or null]}]) as inline SVG, stretched to
// its box; the scale's top is written beside it.
function lineChart(title, unit, series) {
  const w = 400;
  const h = 100;
  const values = series.flatMap((s) => s.points.filter((p) => p !== null));
  const max = Math.max(0, ...values);
  const top = max > 0 ? max * 1.1 : 1;
  const svg = svgEl('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title });
  svg.append(svgEl('line', { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: 'axis' }));
  series.forEach((s, i) => {
    const n = s.points.length;
    const coords = s.points.map((p, j) => (p === null ? null : `${(j / Math.max(n - 1, 1)) * w},${h - (p / top) * h}`))
      .filter(Boolean);
    if (coords.length) svg.append(svgEl('polyline', { points: coords.join(' '), class: `s${i % 3}` }));
  });
  return el('div', { class: 'chart' }, el('strong', {}, title), ' ',
    el('span', { class: 'muted' }, `max ${Number(max.toPrecision(3))} ${unit}`), svg,
    el('div', { class: 'legend' }, series.map((s, i) => el('span', { class: `k${i % 3}` }, s.name))));
}

function chartsView() {
  const body = el('div', { class: 'charts' });
  show(el('h1', {}, 'Charts'), el('p', { class: 'muted' }, 'From the host\'s /metrics, sampled every 2 s; the last 2 minutes.'), body);
  const history = [];  // [{t, rates: {fn: {calls, errors}}, latency: {fn: {p50, p95, p99}}}]
  let last = null;
  every(2000, async () => {
    const samples = parseMetrics(await api('GET', '/metrics', { text: true }));
    const now = { t: Date.now(), calls: {}, errors: {}, buckets: {} };
    for (const s of samples) {
      const fn = `${s.labels.app}/${s.labels.function}`;
      if (s.name === 'gust_invocations_total') {
        now.calls[fn] = (now.calls[fn] || 0) + s.value;
        if (s.labels.outcome !== 'ok') now.errors[fn] = (now.errors[fn] || 0) + s.value;
      } else if (s.name === 'gust_invocation_duration_seconds_bucket') {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        const b = (now.buckets[fn] = now.buckets[fn] || new Map());
        b.set(le, (b.get(le) || 0) + s.value);
      }
    }
    if (last) {
      const dt = (now.t - last.t) / 1000;
      const point = { calls: {}, errors: {}, latency: {} };
      for (const fn of Object.keys(now.calls)) {
        point.calls[fn] = ((now.calls[fn] || 0) - (last.calls[fn] || 0)) / dt;
        point.errors[fn] = ((now.errors[fn] || 0) - (last.errors[fn] || 0)) / dt;
      }
      for (const [fn, b] of Object.entries(now.buckets)) {
        const before = last.buckets[fn] || new Map();
        const delta = [...b.entries()].sort((x, y) => x[0] - y[0]).map(([le, c]) => [le, c - (before.get(le) || 0)]);
        point.latency[fn] = { p50: quantile(delta, 0.5), p95: quantile(delta, 0.95), p99: quantile(delta, 0.99) };
      }
      history.push(point);
      if (history.length > 60) history.shift();
    }
    last = now;
    const fns = Object.keys(now.calls).sort();
    const totals = (key) => history.map((p) => Object.values(p[key]).reduce((a, b) => a + b, 0));
    body.replaceChildren(
      lineChart('All functions', 'per s', [{ name: 'invocations/s', points: totals('calls') }, { name: 'errors/s', points: totals('errors') }]),
      ...fns.flatMap((fn) => [
        lineChart(`${fn}: invocations`, 'per s', [{ name: 'invocations/s', points: history.map((p) => p.calls[fn] ?? null) },
          { name: 'errors/s', points: history.map((p) => p.errors[fn] ?? null) }]),
        lineChart(`${fn}: latency`, 'ms', ['p50', 'p95', 'p99'].map((k) => ({ name: k,
          points: history.map((p) => (p.latency[fn] && p.latency[fn][k] !== null ? p.latency[fn][k] * 1000 : null)) })))]));
  });
}

// ---- Routing -------------------------------------------------------------------------

function route() {
  generation += 1;
  setStatus('');
  const hash = location.hash.slice(1) || '/apps';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('current', a.getAttribute('href').slice(2) === parts[0]);
  }
  const views = {
    apps: () => appsView(),
    app: () => appView(parts[1]),
    invocations: () => invocationsView(query),
    invocation: () => invocationView(parts[1]),
    logs: () => logsView(parts[1]),
    queues: () => queuesView(),
    queue: () => queueView(parts[1]),
    topic: () => topicView(parts[1]),
    timers: () => timersView(),
    charts: () => chartsView(),
  };
  const chosen = views[parts[0]];
  if (!chosen) {
    show(el('h1', {}, 'Not found'), el('p', {}, 'No view ', el('code', {}, hash), '.'));
    return;
  }
  Promise.resolve(chosen()).catch((e) => setStatus(e.message));
}

// Logging out is an API call like the others, with the session's token.
document.getElementById('logout').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await api('POST', '/logout', { text: true });
  } catch (e) { /* the session is gone either way */ }
  localStorage.removeItem('gust-console-token');
  location.assign('/login');
});

window.addEventListener('hashchange', route);
route();
