// Attack paths through the API: computed from the inventory and Trivy
// scans, listed with risk, entry point, target and steps
// (GET /api/v1/attack-paths: filters, counts, keyset paging), one path with
// each step's risk factors and remediation (GET /api/v1/attack-paths/{id}),
// recomputed as the inventory and crowns change, bounded by
// attack_path_max_hops, cycles handled, and recomputed on request
// (POST /api/v1/attack-paths/recompute). Viewers read; changes need
// Alerts: Manage.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { startServer, makeTempDir, runCli } from './lib/server.mjs';
import { addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { getJson } from './lib/incidents.mjs';

let srv;
let tok;
let ana;
let vic;

before(async () => {
  const dir = makeTempDir('stockade-paths-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'ana', role: 'analyst', password: 'ana-password-1234' },
    { name: 'vic', role: 'viewer', password: 'vic-password-1234' },
  ]);
  tok = await cliToken(db, 'paths-manage', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });
  ana = await signIn(srv.url, 'ana', 'ana-password-1234');
  vic = await signIn(srv.url, 'vic', 'vic-password-1234');
});

async function inventory(body, url = srv.url, token = tok) {
  const r = await as(url, { bearer: token }, 'POST', '/api/v1/inventory', { body });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function trivy(image, vulns, url = srv.url, token = tok) {
  const body = {
    SchemaVersion: 2,
    ArtifactName: image,
    ArtifactType: 'container_image',
    Metadata: { RepoTags: [image], RepoDigests: [`${image.split(':')[0]}@sha256:${image.length}${vulns.length}`] },
    Results: [{ Target: image, Vulnerabilities: vulns.map(([id, sev]) => ({ VulnerabilityID: id, PkgName: 'pkg', Severity: sev })) }],
  };
  const r = await as(url, { bearer: token }, 'POST', '/api/v1/ingest/trivy', { body });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const list = (query = '', who = { bearer: tok }) => as(srv.url, who, 'GET', `/api/v1/attack-paths${query}`);
async function items(query = '') {
  const r = await list(query);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const ent = (kind, key, extra = {}) => ({ kind, key, ...extra });
const e = (from, to, kind, properties) => (properties ? { from, to, kind, properties } : { from, to, kind });

// The scenario: three entry points, three critical assets.
//  A: internet -> service web -> pod web-a (exposed) -uses-identity-> mi-a
//     (managed identity) -can-access-> storage sa1 (critical)           2 hops
//  B: pod batch-b runs an image with critical findings -uses-identity->
//     id-b -member-of-> group-g -can-access-> vault kv1 (critical)        3 hops
//  C: pod edge-c exposed and high findings, a 5-hop chain to db1, with a
//     cycle among its identities                                         5 hops
const SCENARIO = {
  entities: [
    ent('service', 'service:pc/shop/web', { name: 'shop/web' }),
    ent('pod', 'pod:pc/shop/web-a'),
    ent('identity', 'identity:mi-a', { properties: { type: 'managed identity' } }),
    ent('cloud-resource', 'cloud-resource:az/sa1', { name: 'sa1', properties: { type: 'Storage account' }, critical: true }),
    ent('pod', 'pod:pc/jobs/batch-b'),
    ent('image', 'image:reg.example/batch:7'),
    ent('identity', 'identity:pc/id-b', { properties: { type: 'service account' } }),
    ent('identity', 'identity:group-g', { properties: { type: 'group' } }),
    ent('cloud-resource', 'cloud-resource:az/kv1', { name: 'kv1', properties: { type: 'Key vault' }, critical: true }),
    ent('pod', 'pod:pc/edge/edge-c'),
    ent('image', 'image:reg.example/edge:3'),
    ...['i1', 'i2', 'i3', 'i4'].map((n) => ent('identity', `identity:${n}`)),
    ent('cloud-resource', 'cloud-resource:gcp/db1', { name: 'db1', critical: true }),
    ent('identity', 'identity:lonely'),
  ],
  edges: [
    e('service:pc/shop/web', 'internet:', 'exposed-to-internet'),
    e('service:pc/shop/web', 'pod:pc/shop/web-a', 'routes-to'),
    e('pod:pc/shop/web-a', 'identity:mi-a', 'uses-identity'),
    e('identity:mi-a', 'cloud-resource:az/sa1', 'can-access', { role: 'Storage Blob Data Owner' }),
    e('pod:pc/jobs/batch-b', 'image:reg.example/batch:7', 'from-image'),
    e('pod:pc/jobs/batch-b', 'identity:pc/id-b', 'uses-identity'),
    e('identity:pc/id-b', 'identity:group-g', 'member-of'),
    e('identity:group-g', 'cloud-resource:az/kv1', 'can-access'),
    e('pod:pc/edge/edge-c', 'internet:', 'exposed-to-internet'),
    e('pod:pc/edge/edge-c', 'image:reg.example/edge:3', 'from-image'),
    e('pod:pc/edge/edge-c', 'identity:i1', 'uses-identity'),
    e('identity:i1', 'identity:i2', 'can-access'),
    e('identity:i2', 'identity:i3', 'member-of'),
    e('identity:i3', 'identity:i1', 'can-access'),
    e('identity:i3', 'identity:i4', 'can-access'),
    e('identity:i4', 'cloud-resource:gcp/db1', 'can-access'),
    e('identity:lonely', 'cloud-resource:gcp/db1', 'can-access'),
  ],
};

let byEntry;

test('paths from each kind of entry point, with risk levels from their factors', async () => {
  const first = await inventory(SCENARIO);
  assert.equal(first.attack_paths.paths, 2); // web-a (exposed) and edge-c (exposed); batch-b has no scan yet
  await trivy('reg.example/batch:7', [['CVE-2024-0001', 'CRITICAL'], ['CVE-2024-0002', 'LOW']]);
  await trivy('reg.example/edge:3', [['CVE-2024-0100', 'HIGH']]);
  const all = await items();
  assert.equal(all.items.length, 3);
  byEntry = Object.fromEntries(all.items.map((p) => [p.entry.key, p]));
  const a = byEntry['pod:pc/shop/web-a'];
  const b = byEntry['pod:pc/jobs/batch-b'];
  const c = byEntry['pod:pc/edge/edge-c'];
  assert.ok(a && b && c, JSON.stringify(Object.keys(byEntry)));
  assert.equal(a.target.key, 'cloud-resource:az/sa1');
  assert.equal(a.hops, 2);
  assert.equal(a.risk, 'high'); // exposed
  assert.equal(b.target.key, 'cloud-resource:az/kv1');
  assert.equal(b.hops, 3);
  assert.equal(b.risk, 'high'); // critical findings, not exposed
  assert.equal(c.target.key, 'cloud-resource:gcp/db1');
  assert.equal(c.hops, 5); // edge-c, i1, i2, i3, i4, db1: the cycle i1 -> i2 -> i3 -> i1 is left
  assert.equal(c.risk, 'high'); // exposed + high findings, but long
  assert.equal(c.steps.map((s) => s.entity.key).join(' '),
    'pod:pc/edge/edge-c identity:i1 identity:i2 identity:i3 identity:i4 cloud-resource:gcp/db1');
  assert.deepEqual(all.counts, { low: 0, medium: 0, high: 3, critical: 0 });
  assert.equal(all.next_cursor, null);
  // Identities with access but no entry point make no path.
  assert.ok(!all.items.some((p) => p.entry.key === 'identity:lonely'));
});

test('one path: each step with its edge, risk factors and remediation', async () => {
  const p = await getJson(srv.url, tok, `/api/v1/attack-paths/${byEntry['pod:pc/shop/web-a'].id}`);
  assert.equal(p.title, 'Internet-exposed pod web-a can reach Storage account sa1');
  assert.equal(p.steps.length, 3);
  const [s0, s1, s2] = p.steps;
  assert.equal(s0.edge, null);
  assert.deepEqual(s0.risk_factors.map((f) => f.code), ['internet-exposed']);
  assert.equal(s0.risk_factors[0].text, 'Exposed to the internet through service shop/web');
  assert.equal(s0.remediation, 'Remove the public IP / put the service behind an ingress with authentication.');
  assert.equal(s1.edge.kind, 'uses-identity');
  assert.equal(s1.entity.label, 'managed identity');
  assert.match(s1.remediation, /identity of its own/);
  assert.equal(s2.edge.kind, 'can-access');
  assert.deepEqual(s2.edge.properties, { role: 'Storage Blob Data Owner' });
  assert.deepEqual(s2.risk_factors.map((f) => f.code), ['can-access', 'critical-asset']);
  assert.equal(s2.risk_factors[0].text, 'mi-a can access sa1 (role Storage Blob Data Owner)');
  assert.equal(s2.remediation, "Scope the managed identity's role assignment to the resources it needs.");

  const b = await getJson(srv.url, tok, `/api/v1/attack-paths/${byEntry['pod:pc/jobs/batch-b'].id}`);
  assert.equal(b.steps[0].risk_factors[0].code, 'vulnerable-image');
  assert.equal(b.steps[0].remediation, 'Patch the image: 1 critical, 0 high vulnerabilities (CVE-2024-0001).');
  assert.equal(b.steps[2].risk_factors[0].code, 'group-membership');
  assert.equal(b.steps[3].remediation, "Scope the identity's role assignment to the resources it needs.");
  assert.equal(b.title, 'pod batch-b with critical vulnerabilities can reach Key vault kv1');

  assertError(await list('/999999'), 404, 'not_found');
  assertError(await list('/abc'), 404, 'not_found');
});

test('filters: risk, target, entry and entity, by id or key; bad parameters are refused', async () => {
  const a = byEntry['pod:pc/shop/web-a'];
  let r = await items(`?target=${a.target.id}`);
  assert.deepEqual(r.items.map((p) => p.id), [a.id]);
  r = await items(`?target=${encodeURIComponent('cloud-resource:az/sa1')}`);
  assert.deepEqual(r.items.map((p) => p.id), [a.id]);
  r = await items(`?entry=${encodeURIComponent('pod:pc/edge/edge-c')}`);
  assert.equal(r.items.length, 1);
  r = await items(`?entity=${encodeURIComponent('identity:i3')}`);
  assert.deepEqual(r.items.map((p) => p.entry.key), ['pod:pc/edge/edge-c']);
  r = await items('?target=nothing:here');
  assert.equal(r.items.length, 0);
  r = await items('?risk=critical');
  assert.equal(r.items.length, 0);
  r = await items('?risk=high,low');
  assert.equal(r.items.length, 3);
  for (const [q, re] of [
    ['?risk=severe', /^risk: expected low, medium, high or critical/],
    ['?limit=0', /^limit: expected 1 to 200$/],
    ['?limit=201', /^limit: expected 1 to 200$/],
    ['?cursor=abc', /^cursor: not a cursor this server issued$/],
    ['?cursor=9.1', /^cursor:/],
    ['?target=0', /^target: expected an entity id or key$/],
  ]) {
    assertError(await list(q), 400, 'invalid_request', re, q);
  }
});

test('the inventory changing changes the paths: a scan raises the risk, a crown removed removes the path', async () => {
  await trivy('reg.example/web:1', [['CVE-2024-0200', 'HIGH']]);
  await inventory({ entities: [ent('image', 'image:reg.example/web:1')], edges: [e('pod:pc/shop/web-a', 'image:reg.example/web:1', 'from-image')] });
  let a = (await items(`?entry=${encodeURIComponent('pod:pc/shop/web-a')}`)).items[0];
  assert.equal(a.risk, 'critical'); // exposed + high findings
  assert.equal(a.id, byEntry['pod:pc/shop/web-a'].id, 'the same path keeps its id');
  assert.equal(a.title, 'Internet-exposed pod web-a with high-severity vulnerabilities can reach Storage account sa1');

  const sa1 = a.target.id;
  let r = await as(srv.url, ana, 'PATCH', `/api/v1/entities/${sa1}`, { body: { critical: false } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await items(`?entry=${encodeURIComponent('pod:pc/shop/web-a')}`)).items.length, 0);
  r = await as(srv.url, ana, 'PATCH', `/api/v1/entities/${sa1}`, { body: { critical: true } });
  assert.equal(r.status, 200, r.text);
  a = (await items(`?entry=${encodeURIComponent('pod:pc/shop/web-a')}`)).items[0];
  assert.equal(a.target.id, sa1);

  // A shortcut appears: the path to db1 gets shorter, in place of the old one.
  await inventory({ edges: [e('identity:i1', 'identity:i4', 'member-of')] });
  const c = (await items(`?entry=${encodeURIComponent('pod:pc/edge/edge-c')}`)).items;
  assert.equal(c.length, 1);
  assert.equal(c[0].hops, 3);
  assert.equal(c[0].risk, 'critical');
});

test('keyset paging walks every path once, highest risk first', async () => {
  const ents = [];
  const edges = [];
  for (let p = 0; p < 5; p++) {
    ents.push(ent('pod', `pod:pg/ns/p${p}`));
    edges.push(e(`pod:pg/ns/p${p}`, 'internet:', 'exposed-to-internet'));
    ents.push(ent('identity', `identity:pg-${p}`));
    edges.push(e(`pod:pg/ns/p${p}`, `identity:pg-${p}`, 'uses-identity'));
    for (let t = 0; t < 5; t++) {
      ents.push(ent('cloud-resource', `cloud-resource:pg/${p}/${t}`, { critical: true }));
      edges.push(e(`identity:pg-${p}`, `cloud-resource:pg/${p}/${t}`, 'can-access'));
    }
  }
  await inventory({ entities: ents, edges });
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const q = new URLSearchParams({ limit: '7' });
    if (cursor) q.set('cursor', cursor);
    const page = await items(`?${q}`);
    assert.ok(page.items.length <= 7);
    seen.push(...page.items);
    cursor = page.next_cursor;
    pages++;
  } while (cursor && pages < 20);
  const all = await items('?limit=200');
  assert.equal(seen.length, all.items.length);
  assert.deepEqual(seen.map((p) => p.id), all.items.map((p) => p.id));
  assert.equal(new Set(seen.map((p) => p.id)).size, seen.length);
  const rank = { critical: 3, high: 2, medium: 1, low: 0 };
  for (let i = 1; i < seen.length; i++) {
    const [x, y] = [seen[i - 1], seen[i]];
    assert.ok(rank[x.risk] > rank[y.risk] || (x.risk === y.risk && x.id > y.id));
  }
  assert.ok(seen.length >= 25 + 3);
});

test('viewers read paths; recomputing on request needs Alerts: Manage and changes nothing that is current', async () => {
  const r = await list('', vic);
  assert.equal(r.status, 200);
  const before = r.json.items.map((p) => [p.id, p.risk, p.hops, p.title]);
  assertError(await as(srv.url, vic, 'POST', '/api/v1/attack-paths/recompute'), 403, 'forbidden', 'Requires Alerts: Manage');
  const re = await as(srv.url, ana, 'POST', '/api/v1/attack-paths/recompute');
  assert.equal(re.status, 200, re.text);
  assert.ok(re.json.attack_paths.paths >= before.length);
  const after = (await list('', vic)).json.items.map((p) => [p.id, p.risk, p.hops, p.title]);
  assert.deepEqual(after, before);
});

test('attack_path_max_hops bounds the paths searched', async () => {
  const dir = makeTempDir('stockade-hops-');
  const db = path.join(dir, 'stockade.db');
  const t = await cliToken(db, 'hops', ['alerts:read', 'alerts:manage']);
  const small = await startServer({ dir, args: ['--attack-path-max-hops', '2'] });
  await inventory(SCENARIO, small.url, t);
  const r = await as(small.url, { bearer: t }, 'GET', '/api/v1/attack-paths');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.items.map((p) => p.entry.key), ['pod:pc/shop/web-a']);
  await small.stop();
  for (const v of ['0', '17', 'many']) {
    const bad = await runCli(['serve', '--db', path.join(makeTempDir(), 'x.db'), '--attack-path-max-hops', v]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /attack_path_max_hops/);
  }
});
