// The reference answers of graphql-js for the GraphQL cases (tests/fixtures/graphql): for
// each document its syntax error, its validation errors and, where a root value is given,
// its execution result. Prints one JSON line a case; graphql_reference_test.cc runs the same
// documents through our library and compares.
//
// Besides the written cases it makes more, deterministically (a fixed seed): every seed
// document cut short at each token, with one token dropped, and with one character changed.
//
// Usage: node graphql_reference.mjs <fixtures/graphql folder>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema, parse, validate, execute, specifiedRules,
  Lexer, Source, TokenKind, GraphQLError,
} from 'graphql';

const folder = process.argv[2];
const schema = buildSchema(readFileSync(join(folder, 'schema.graphql'), 'utf8'));
const rules = specifiedRules;

function readCases(text) {
  const cases = [];
  const parts = text.split(/^### ?/m).slice(1);  // before the first: the format's description
  for (const part of parts) {
    const newline = part.indexOf('\n');
    const header = newline < 0 ? part : part.slice(0, newline);
    let document = newline < 0 ? '' : part.slice(newline + 1);
    if (document.endsWith('\n')) document = document.slice(0, -1);
    const options = header.trim() ? JSON.parse(header) : {};
    cases.push({ document, ...options });
  }
  return cases;
}

function errorJson(e) {
  const out = { message: e.message };
  if (e.locations) out.locations = e.locations;
  if (e.path) out.path = e.path;
  return out;
}

function answer(c) {
  const out = { document: c.document };
  if (c.vars !== undefined) out.vars = c.vars;
  if (c.root !== undefined) out.root = c.root;
  if (c.op !== undefined) out.op = c.op;
  let document;
  try {
    document = parse(c.document);
  } catch (e) {
    if (!(e instanceof GraphQLError)) throw e;
    out.syntax = errorJson(e);
    return out;
  }
  try {
    out.validation = validate(schema, document, rules).map(errorJson);
  } catch (e) {
    // graphql-js 16 throws from SingleFieldSubscriptions when @skip/@include on a root
    // field takes a variable; such a case has no reference answer.
    out.crash = e.message;
    return out;
  }
  if (out.validation.length === 0 && c.root !== undefined) {
    const result = execute({ schema, document, rootValue: c.root, variableValues: c.vars ?? {}, operationName: c.op });
    out.execution = {};
    if (result.errors) out.execution.errors = result.errors.map(errorJson);
    if ('data' in result) out.execution.data = result.data;
  }
  return out;
}

// mulberry32: a small seeded generator, so the generated cases are the same on every run.
function random(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tokensOf(text) {
  const lexer = new Lexer(new Source(text));
  const tokens = [];
  try {
    for (let t = lexer.advance(); t.kind !== TokenKind.EOF; t = lexer.advance()) tokens.push(t);
  } catch {
    return null;
  }
  return tokens;
}

function generated(seeds) {
  const out = [];
  const next = random(16);
  const alphabet = ' {}()[]:$@!=."\\#,\n_aZ09é';
  for (const seed of seeds) {
    const tokens = tokensOf(seed.document);
    if (!tokens || tokens.length === 0) continue;
    for (const t of tokens) out.push({ document: seed.document.slice(0, t.end) });
    for (let i = 0; i < tokens.length; i += 2) {
      const t = tokens[i];
      out.push({ document: seed.document.slice(0, t.start) + seed.document.slice(t.end) });
    }
    for (let k = 0; k < 3; ++k) {
      const at = Math.floor(next() * seed.document.length);
      const c = alphabet[Math.floor(next() * alphabet.length)];
      out.push({ document: seed.document.slice(0, at) + c + seed.document.slice(at + 1) });
    }
  }
  return out;
}

const written = readCases(readFileSync(join(folder, 'cases.graphql'), 'utf8'));
const seeds = written.filter((c) => {
  try { return validate(schema, parse(c.document), rules).length === 0; } catch { return false; }
});
const all = [...written, ...generated(seeds)];
const seen = new Set();
for (const c of all) {
  const key = JSON.stringify(c);
  if (seen.has(key)) continue;
  seen.add(key);
  process.stdout.write(JSON.stringify(answer(c)) + '\n');
}
