// POST /api/v1/inventory: entities and edges from agents and scripts.
// Permissions (viewer refused, analyst and responder allowed, tokens by
// their permissions, cluster-bound tokens kept to their cluster), the
// stored result (properties merged by top-level key, names, crowns that
// flag incidents high impact, edges with their properties, the internet
// pseudo-entity), idempotency, one audit entry per batch, and hostile input
// (wrong types, unknown keys, huge arrays, 10 MB strings, bad JSON): every
// refusal is a 4xx naming the element and field, and stores nothing.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, sqlite } from './lib/server.mjs';
import { request, addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { T0, alert, pod, mustPost, getJson, allIncidents } from './lib/incidents.mjs';

const INV = '/api/v1/inventory';
const MB = 1024 * 1024;

let srv;
let tok; // alerts:read + alerts:manage
let readTok;
let boundTok; // bound to cluster "bound"
let ana;
let resp;
let vic;

before(async () => {
  const dir = makeTempDir('stockade-inventory-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'ana', role: 'analyst', password: 'ana-password-1234' },
    { name: 'resp', role: 'responder', password: 'resp-password-123' },
    { name: 'vic', role: 'viewer', password: 'vic-password-1234' },
  ]);
  tok = await cliToken(db, 'inv-manage', ['alerts:read', 'alerts:manage']);
  readTok = await cliToken(db, 'inv-read', ['alerts:read']);
  boundTok = await cliToken(db, 'inv-bound', ['alerts:read', 'alerts:manage'], { cluster: 'bound' });
  srv = await startServer({ dir });
  ana = await signIn(srv.url, 'ana', 'ana-password-1234');
  resp = await signIn(srv.url, 'resp', 'resp-password-123');
  vic = await signIn(srv.url, 'vic', 'vic-password-1234');
});

const sq = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`);
const sqj = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`, { json: true });

const post = (body, who = { bearer: tok }, target = INV) => as(srv.url, who, 'POST', target, { body });

async function mustPost200(body, who) {
  const r = await post(body, who);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** The stored entity with `key` ({id, name, props, critical}) or undefined. */
function stored(key) {
  const rows = sqj(`SELECT id, name, props, critical FROM entities WHERE key = '${key.replace(/'/g, "''")}';`);
  return rows.length ? { ...rows[0], props: JSON.parse(rows[0].props) } : undefined;
}

const TABLES = ['entities', 'edges', 'attack_paths', 'audit_log'];
function counts() {
  const sql = TABLES.map((t) => `SELECT '${t}', count(*) FROM ${t};`).join('\n');
  const out = sqlite(srv.dbPath, `.timeout 5000\n.mode list\n${sql}`);
  return Object.fromEntries(out.split('\n').map((l) => l.split('|')).map(([k, v]) => [k, Number(v)]));
}

/** Asserts the body is refused with `status`, a message matching `re` and
 *  `index` (null: absent), and that nothing was stored. */
async function refused(body, { status = 400, re, index, who, target } = {}) {
  const before = counts();
  const r = await post(body, who, target);
  const code = { 400: 'invalid_request', 403: 'forbidden', 413: 'too_large' }[status];
  assertError(r, status, code, re, JSON.stringify(body).slice(0, 200));
  if (index === null) assert.ok(!('index' in r.json.error), r.text);
  else if (index !== undefined) assert.equal(r.json.error.index, index, r.text);
  assert.deepEqual(counts(), before, 'a refused inventory stored something');
  return r;
}

test('viewers and read-only tokens are refused; analysts, responders and tokens with Alerts: Manage post', async () => {
  const body = { entities: [{ kind: 'identity', key: 'identity:perm-check' }] };
  assertError(await post(body, vic), 403, 'forbidden', 'Requires Alerts: Manage');
  assertError(await post(body, { bearer: readTok }), 403, 'forbidden', 'Requires Alerts: Manage');
  assertError(await post(body, null), 401, 'unauthorized');
  assertError(await post(body, { cookie: ana.cookie }), 403, 'csrf');
  assert.equal((await post(body, ana)).status, 200);
  assert.equal((await post(body, resp)).status, 200);
  assert.equal((await post(body, { bearer: tok })).status, 200);
  assert.ok(stored('identity:perm-check'));
});

test('entities and edges are stored; a second post of the same batch changes nothing', async () => {
  const body = {
    entities: [
      { kind: 'pod', key: 'pod:inv/shop/web-1', properties: { node: 'n1', labels: { app: 'web' } } },
      { kind: 'identity', key: 'identity:mi-inv', name: 'mi-inv', properties: { type: 'managed identity' } },
      { kind: 'cloud-resource', key: 'cloud-resource:azure/inv/sa1', name: 'sa1', critical: true },
    ],
    edges: [
      { from: 'pod:inv/shop/web-1', to: 'identity:mi-inv', kind: 'uses-identity' },
      { from: 'identity:mi-inv', to: 'cloud-resource:azure/inv/sa1', kind: 'can-access', properties: { role: 'Reader' } },
      { from: 'pod:inv/shop/web-1', to: 'internet:', kind: 'exposed-to-internet', properties: { ports: [443] } },
    ],
  };
  const audits = Number(sq("SELECT count(*) FROM audit_log WHERE action = 'inventory.update';"));
  const first = await mustPost200(body);
  assert.equal(first.entities, 3);
  assert.equal(first.entities_created, 3);
  assert.equal(first.edges, 3);
  assert.equal(first.edges_created, 3);
  assert.equal(first.attack_paths.paths, 1);

  const p = stored('pod:inv/shop/web-1');
  assert.equal(p.name, 'web-1'); // the key's last part
  assert.deepEqual(p.props, { node: 'n1', labels: { app: 'web' } });
  assert.equal(stored('cloud-resource:azure/inv/sa1').critical, 1);
  const internet = stored('internet:');
  assert.equal(internet.name, 'Internet');
  assert.equal(sq(`SELECT kind || ' ' || source || ' ' || props FROM edges WHERE src = ${p.id} AND dst = ${internet.id};`),
    'exposed-to-internet inventory {"ports":[443]}');
  assert.equal(sq(`SELECT cluster FROM entities WHERE id = ${p.id};`), 'inv');

  const again = await mustPost200(body);
  assert.equal(again.entities_created + again.entities_changed, 0);
  assert.equal(again.edges_created + again.edges_changed, 0);
  assert.equal(again.attack_paths.entities_checked, 0, 'nothing changed, nothing recomputed');
  assert.equal(Number(sq(`SELECT count(*) FROM entities WHERE key LIKE '%inv%';`)), 3);
  assert.equal(Number(sq(`SELECT count(*) FROM edges WHERE source = 'inventory' AND src = ${p.id};`)), 2);
  // One audit entry per batch, with the counts.
  const rows = sqj("SELECT actor, details FROM audit_log WHERE action = 'inventory.update' ORDER BY id;");
  assert.equal(rows.length, audits + 2);
  const d = JSON.parse(rows[rows.length - 2].details);
  assert.equal(d.entities_created, 3);
  assert.equal(d.edges_created, 3);
  assert.equal(rows[rows.length - 1].actor, 'token:inv-manage');
});

test('properties merge by top-level key: a value replaces, null removes, nested objects are replaced whole', async () => {
  const key = 'pod:inv/merge/p1';
  await mustPost200({ entities: [{ kind: 'pod', key, properties: { a: 1, b: { x: 1, y: 2 }, c: 'keep' } }] });
  const r = await mustPost200({ entities: [{ kind: 'pod', key, name: 'renamed', properties: { a: 2, b: { x: 9 }, c: null, d: [1] } }] });
  assert.equal(r.entities_changed, 1);
  const e = stored(key);
  assert.deepEqual(e.props, { a: 2, b: { x: 9 }, d: [1] });
  assert.equal(e.name, 'renamed');
  // No properties, no name: unchanged.
  await mustPost200({ entities: [{ kind: 'pod', key }] });
  assert.deepEqual(stored(key).props, { a: 2, b: { x: 9 }, d: [1] });
  assert.equal(stored(key).name, 'renamed');
  // Properties alerts wrote are merged, not lost.
  await mustPost(srv.url, tok, alert('merge-1', { clusterName: 'inv', entities: [{ ...pod('inv', 'merge', 'p2'), properties: { image: 'nginx:1' } }] }));
  await mustPost200({ entities: [{ kind: 'pod', key: 'pod:inv/merge/p2', properties: { node: 'n2' } }] });
  assert.deepEqual(stored('pod:inv/merge/p2').props, { image: 'nginx:1', node: 'n2' });
});

test('a crown from the inventory flags the incidents of that entity high impact, and removing it clears them', async () => {
  await mustPost(srv.url, tok, alert('crown-1', { clusterName: 'crown', at: T0, entities: [pod('crown', 'ns', 'db-0')] }));
  const find = async () => (await allIncidents(srv.url, tok, 'cluster=crown'))[0];
  assert.equal((await find()).high_impact, false);
  await mustPost200({ entities: [{ kind: 'pod', key: 'pod:crown/ns/db-0', critical: true }] });
  assert.equal((await find()).high_impact, true);
  await mustPost200({ entities: [{ kind: 'pod', key: 'pod:crown/ns/db-0', critical: false }] });
  assert.equal((await find()).high_impact, false);
});

test('edge ends must be in the batch or stored; a missing one refuses the whole batch with its index', async () => {
  await refused({
    entities: [{ kind: 'identity', key: 'identity:never-stored' }],
    edges: [
      { from: 'identity:never-stored', to: 'identity:perm-check', kind: 'member-of' },
      { from: 'identity:never-stored', to: 'identity:nowhere', kind: 'member-of' },
    ],
  }, { re: /^edges\[1\]\.to: no entity "identity:nowhere" in this request or stored$/, index: 1 });
  assert.equal(stored('identity:never-stored'), undefined);
  // A stored end is fine.
  const r = await mustPost200({ edges: [{ from: 'pod:inv/shop/web-1', to: 'identity:perm-check', kind: 'uses-identity' }] });
  assert.equal(r.edges_created, 1);
});

test('edge rules: known kinds, no self-edges, exposure goes to "internet:" and only there', async () => {
  const ents = [{ kind: 'identity', key: 'identity:e1' }, { kind: 'identity', key: 'identity:e2' }];
  await refused({ entities: ents, edges: [{ from: 'identity:e1', to: 'identity:e2', kind: 'can_access' }] },
    { re: /^edges\[0\]\.kind: "can_access" is not an edge kind$/, index: 0 });
  await refused({ entities: ents, edges: [{ from: 'identity:e1', to: 'identity:e1', kind: 'member-of' }] },
    { re: /from and to are the same entity/, index: 0 });
  await refused({ entities: ents, edges: [{ from: 'identity:e1', to: 'identity:e2', kind: 'exposed-to-internet' }] },
    { re: /only they, go to "internet:"/, index: 0 });
  await refused({ entities: ents, edges: [{ from: 'identity:e1', to: 'internet:', kind: 'can-access' }] },
    { re: /only they, go to "internet:"/ });
  await refused({ entities: [{ kind: 'ip', key: 'internet:' }] }, { re: /^entities\[0\]\.key: must start with "ip:"$/ });
});

test('strict keys and types, each refusal naming the element and field', async () => {
  const e = (x) => ({ entities: [{ kind: 'pod', key: 'pod:t/ns/ok' }, x] });
  await refused({}, { re: /expected \{"entities"/, index: null });
  await refused({ entities: [], extra: 1 }, { re: /^extra: unknown key$/, index: null });
  await refused([], { re: /expected \{"entities"/ });
  await refused({ entities: {} }, { re: /^entities: expected an array$/, index: null });
  await refused({ edges: 'x' }, { re: /^edges: expected an array$/ });
  await refused(e(7), { re: /^entities\[1\]: expected an object$/, index: 1 });
  await refused(e({ kind: 'pod', key: 'pod:t/ns/p', colour: 'red' }), { re: /^entities\[1\]\.colour: unknown key$/, index: 1 });
  await refused(e({ kind: 3, key: 'pod:t/ns/p' }), { re: /^entities\[1\]\.kind: expected a string$/, index: 1 });
  await refused(e({ kind: 'pods', key: 'pod:t/ns/p' }), { re: /"pods" is not an entity kind/ });
  await refused(e({ kind: 'pod' }), { re: /^entities\[1\]\.key: is required$/ });
  await refused(e({ kind: 'pod', key: ['pod:x'] }), { re: /^entities\[1\]\.key: expected a string$/ });
  await refused(e({ kind: 'pod', key: 'identity:x' }), { re: /must start with "pod:"/ });
  await refused(e({ kind: 'pod', key: 'pod:t/ns/ok' }), { re: /^entities\[1\]\.key: "pod:t\/ns\/ok" appears twice$/, index: 1 });
  await refused(e({ kind: 'pod', key: 'pod:t/ns/p', name: '' }), { re: /^entities\[1\]\.name: must not be empty$/ });
  await refused(e({ kind: 'pod', key: 'pod:t/ns/p', name: 5 }), { re: /name: expected a string/ });
  await refused(e({ kind: 'pod', key: 'pod:t/ns/p', properties: [1] }), { re: /^entities\[1\]\.properties: expected an object$/ });
  await refused(e({ kind: 'pod', key: 'pod:t/ns/p', critical: 'yes' }), { re: /^entities\[1\]\.critical: expected true or false$/ });
  await refused(e({ kind: 'pod', key: `pod:t/ns/${'x'.repeat(600)}` }), { re: /^entities\[1\]\.key: \d+ bytes exceeds the limit of 511$/ });
  await refused(e({ kind: 'pod', key: `pod:t/ns/${'x'.repeat(300)}` }), { re: /^entities\[1\]\.name: is required when the key's last part/ });
  const ed = (x) => ({ entities: [{ kind: 'identity', key: 'identity:a' }], edges: [x] });
  await refused(ed({ from: 'identity:a', to: 'identity:perm-check' }), { re: /^edges\[0\]\.kind: is required$/, index: 0 });
  await refused(ed({ from: 1, to: 'identity:a', kind: 'member-of' }), { re: /^edges\[0\]\.from: expected a string$/ });
  await refused(ed({ from: 'identity:a', to: 'identity:perm-check', kind: 'member-of', why: 1 }), { re: /^edges\[0\]\.why: unknown key$/ });
  await refused(ed({ from: 'identity:a', to: 'identity:perm-check', kind: 'member-of', properties: 'x' }), { re: /^edges\[0\]\.properties: expected an object$/ });
  await refused(ed(null), { re: /^edges\[0\]: expected an object$/ });
});

test('malformed JSON, empty bodies, duplicate keys, deep nesting', async () => {
  await refused('{"entities": [', { re: /^malformed JSON/, index: null });
  await refused('', { re: /^empty body$/ });
  await refused('{"entities": [], "entities": []}', { re: /duplicate/ });
  await refused(`{"entities":[{"kind":"pod","key":"pod:a/b/c","properties":{"x":${'['.repeat(100)}${']'.repeat(100)}}}]}`,
    { re: /nesting deeper than 64 levels/ });
  await refused('{"entities":[]} {"edges":[]}', { re: /expected \{"entities"/ });
  await refused(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), { re: /malformed JSON/ });
});

test('huge batches and huge values: 413 before anything is stored', async () => {
  const many = Array.from({ length: 5001 }, (_, i) => ({ kind: 'identity', key: `identity:h${i}` }));
  await refused({ entities: many }, { status: 413, re: /^entities: 5001 items exceeds the limit of 5000$/, index: null });
  const edges = Array.from({ length: 20001 }, () => ({ from: 'identity:a', to: 'identity:b', kind: 'member-of' }));
  await refused({ edges }, { status: 413, re: /^edges: 20001 items exceeds the limit of 20000$/ });
  // A 70 KB property value fits the body but not one entity's properties.
  await refused({ entities: [{ kind: 'identity', key: 'identity:big', properties: { blob: 'x'.repeat(70000) } }] },
    { status: 413, re: /^entities\[0\]\.properties: \d+ bytes exceeds the limit of 65536$/, index: 0 });
  // 10 MB: over the body limit.
  const r = await post({ entities: [{ kind: 'identity', key: 'identity:huge', name: 'x'.repeat(10 * MB) }] });
  assertError(r, 413, 'too_large');
  assert.equal(stored('identity:huge'), undefined);
  // The largest batch allowed goes through.
  const ok = await mustPost200({ entities: many.slice(0, 5000) });
  assert.equal(ok.entities_created, 5000);
});

test('a token bound to a cluster, or ?cluster=, keeps keys to that cluster', async () => {
  const other = { entities: [{ kind: 'pod', key: 'pod:elsewhere/ns/p' }] };
  await refused(other, { status: 403, who: { bearer: boundTok }, re: /^entities\[0\]\.key: names cluster "elsewhere", not this request's "bound"$/, index: 0 });
  await refused({ entities: [{ kind: 'identity', key: 'identity:x1' }], edges: [{ from: 'identity:x1', to: 'pod:elsewhere/ns/p', kind: 'can-access' }] },
    { status: 403, who: { bearer: boundTok }, re: /^edges\[0\]\.to: names cluster "elsewhere"/ });
  await refused(other, { status: 403, target: `${INV}?cluster=mine`, re: /names cluster "elsewhere"/ });
  assertError(await post(other, { bearer: boundTok }, `${INV}?cluster=elsewhere`), 403, 'forbidden', 'this token is bound to another cluster');
  assertError(await post(other, { bearer: tok }, `${INV}?cluster=bad/name`), 400, 'invalid_request');
  // Its own cluster, unknown ("-") and cluster-less kinds are fine.
  const r = await mustPost200({ entities: [
    { kind: 'pod', key: 'pod:bound/ns/p' }, { kind: 'pod', key: 'pod:-/ns/p' },
    { kind: 'cluster', key: 'cluster:bound' }, { kind: 'identity', key: 'identity:bound-sp' },
  ] }, { bearer: boundTok });
  assert.equal(r.entities_created, 4);
});

test('the server stays up and answers after all of that', async () => {
  const r = await request(srv.url, 'GET', '/healthz');
  assert.equal(r.status, 200);
  const e = await getJson(srv.url, tok, `/api/v1/entities/${stored('pod:inv/shop/web-1').id}`);
  assert.equal(e.key, 'pod:inv/shop/web-1');
});
