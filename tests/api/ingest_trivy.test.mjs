// POST /api/v1/ingest/trivy: Trivy JSON image reports (SchemaVersion 2).
// The samples in shared/samples/trivy are stored per image digest and
// linked to their image entities; a re-posted report replaces the previous
// scan of that digest; a tag that moves to a new digest follows it; counts
// by severity show on images and on the pods that run them (through
// inventory from-image edges and through the containers Falco reports);
// permissions; malformed reports are refused whole with a message.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, makeTempDir, sqlite, SAMPLES_DIR } from './lib/server.mjs';
import { addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { T0, iso, getJson } from './lib/incidents.mjs';

const TRIVY = '/api/v1/ingest/trivy';
const MB = 1024 * 1024;
const sample = (name) => fs.readFileSync(path.join(SAMPLES_DIR, 'trivy', name), 'utf8');
const ALPINE_310 = sample('trivy-alpine-310.json');
const ALPINE_39 = sample('trivy-alpine-39-high-critical.json');

let srv;
let tok;
let readTok;
let ana;
let vic;

before(async () => {
  const dir = makeTempDir('stockade-trivy-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'ana', role: 'analyst', password: 'ana-password-1234' },
    { name: 'vic', role: 'viewer', password: 'vic-password-1234' },
  ]);
  tok = await cliToken(db, 'trivy-manage', ['alerts:read', 'alerts:manage']);
  readTok = await cliToken(db, 'trivy-read', ['alerts:read']);
  srv = await startServer({ dir });
  ana = await signIn(srv.url, 'ana', 'ana-password-1234');
  vic = await signIn(srv.url, 'vic', 'vic-password-1234');
});

const sq = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`);
const post = (body, { who = { bearer: tok }, query = '' } = {}) =>
  as(srv.url, who, 'POST', `${TRIVY}${query}`, { body });

async function mustPost(body, opts) {
  const r = await post(body, opts);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

function entityId(key) {
  const id = sq(`SELECT id FROM entities WHERE key = '${key}';`);
  assert.ok(id, `no entity ${key}`);
  return Number(id);
}

const pane = (key) => getJson(srv.url, tok, `/api/v1/entities/${entityId(key)}`);

/** A report of `image` (tag) with `digest` and the given findings. */
function report(image, digest, vulns) {
  return {
    SchemaVersion: 2,
    CreatedAt: iso(T0),
    ArtifactName: image,
    ArtifactType: 'container_image',
    Metadata: {
      OS: { Family: 'debian', Name: '12.5' },
      ImageID: `sha256:id-${digest}`,
      RepoTags: [image],
      RepoDigests: [`${image.split(':')[0]}@sha256:${digest}`],
    },
    Results: [{
      Target: `${image} (debian 12.5)`,
      Class: 'os-pkgs',
      Type: 'debian',
      Vulnerabilities: vulns.map(([id, sev, pkg = 'libfoo']) => ({
        VulnerabilityID: id, PkgName: pkg, InstalledVersion: '1.0', FixedVersion: '1.1', Severity: sev, Title: `${id} title`,
      })),
    }],
  };
}

const TABLES = ['image_scans', 'image_vulnerabilities', 'image_scan_entities', 'entities', 'audit_log'];
function counts() {
  return Object.fromEntries(TABLES.map((t) => [t, Number(sq(`SELECT count(*) FROM ${t};`))]));
}

async function refused(body, { status = 400, re, query } = {}) {
  const before = counts();
  const r = await post(body, { query });
  assertError(r, status, status === 413 ? 'too_large' : 'invalid_request', re);
  assert.ok(!('index' in r.json.error), r.text);
  assert.deepEqual(counts(), before, 'a refused report stored something');
}

test('the alpine 3.10 sample is stored under its image id and linked to its image entity', async () => {
  const r = await mustPost(ALPINE_310);
  assert.equal(r.digest, 'sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4');
  assert.equal(r.replaced, false);
  assert.deepEqual(r.vulnerabilities, { critical: 0, high: 0, medium: 4, low: 0, unknown: 0, total: 4 });
  assert.equal(r.images.length, 1);
  assert.equal(r.images[0].key, 'image:testdata/fixtures/images/alpine-310.tar.gz');
  const img = await pane(r.images[0].key);
  assert.equal(img.kind, 'image');
  assert.equal(img.vulnerabilities.counts.medium, 4);
  assert.equal(img.vulnerabilities.images[0].os, 'alpine 3.10.2');
  assert.equal(img.vulnerabilities.top.length, 4);
  assert.deepEqual(Object.keys(img.vulnerabilities.top[0]).sort(), ['fixed', 'id', 'installed', 'package', 'severity', 'title', 'url']);
  assert.equal(img.properties.os, 'alpine 3.10.2');
  // Audited once.
  assert.equal(sq(`SELECT count(*) FROM audit_log WHERE action = 'ingest.trivy' AND target = '${r.images[0].key}';`), '1');
});

test('a re-posted report replaces the previous scan of that image; ?image= names the image', async () => {
  const again = await mustPost(ALPINE_310);
  assert.equal(again.replaced, true);
  assert.equal(again.vulnerabilities.total, 4);
  const scan = again.scan_id;
  assert.equal(sq(`SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ${scan};`), '4');
  const named = await mustPost(ALPINE_310, { query: '?image=alpine:3.10.2' });
  assert.equal(named.scan_id, scan);
  assert.deepEqual(named.images.map((i) => i.key), ['image:alpine:3.10.2']);
  assert.equal((await pane('image:alpine:3.10.2')).vulnerabilities.counts.medium, 4);
  assert.equal(sq(`SELECT count(*) FROM image_scans WHERE digest LIKE 'sha256:9617%';`), '1');
  // The older sample: two critical findings.
  const old = await mustPost(ALPINE_39);
  assert.deepEqual(old.vulnerabilities, { critical: 2, high: 0, medium: 0, low: 0, unknown: 0, total: 2 });
  // The same digest with fewer findings: the stored findings are replaced.
  const fewer = JSON.parse(ALPINE_310);
  fewer.Results[0].Vulnerabilities = fewer.Results[0].Vulnerabilities.slice(0, 1);
  const r = await mustPost(fewer);
  assert.equal(r.replaced, true);
  assert.equal(r.vulnerabilities.total, 1);
  assert.equal(sq(`SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ${scan};`), '1');
  assert.equal((await pane('image:alpine:3.10.2')).vulnerabilities.counts.total, 1);
});

test('a tag that moves to a new digest follows it; the unused scan goes', async () => {
  const a = await mustPost(report('reg.example/app:1', 'aaa1', [['CVE-1', 'HIGH'], ['CVE-2', 'HIGH']]));
  assert.equal((await pane('image:reg.example/app:1')).vulnerabilities.counts.high, 2);
  const b = await mustPost(report('reg.example/app:1', 'bbb2', [['CVE-3', 'LOW']]));
  assert.notEqual(a.scan_id, b.scan_id);
  const p = await pane('image:reg.example/app:1');
  assert.deepEqual(p.vulnerabilities.counts, { critical: 0, high: 0, medium: 0, low: 1, unknown: 0, total: 1 });
  assert.equal(p.vulnerabilities.images[0].digest, 'sha256:bbb2');
  assert.equal(sq(`SELECT count(*) FROM image_scans WHERE id = ${a.scan_id};`), '0');
  assert.equal(sq(`SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ${a.scan_id};`), '0');
});

test('pods show the counts of the images they run: inventory edges and Falco containers', async () => {
  await mustPost(report('reg.example/web:2', 'ccc3', [['CVE-9', 'CRITICAL'], ['CVE-8', 'HIGH'], ['CVE-7', 'MEDIUM']]));
  const inv = await as(srv.url, { bearer: tok }, 'POST', '/api/v1/inventory', {
    body: {
      entities: [{ kind: 'pod', key: 'pod:tv/ns/web-0' }, { kind: 'image', key: 'image:reg.example/web:2' }],
      edges: [{ from: 'pod:tv/ns/web-0', to: 'image:reg.example/web:2', kind: 'from-image' }],
    },
  });
  assert.equal(inv.status, 200, inv.text);
  const p = await pane('pod:tv/ns/web-0');
  assert.deepEqual(p.vulnerabilities.counts, { critical: 1, high: 1, medium: 1, low: 0, unknown: 0, total: 3 });
  assert.deepEqual(p.details.images, ['reg.example/web:2']);
  assert.equal(p.vulnerabilities.top[0].id, 'CVE-9');
  assert.equal(p.vulnerabilities.top[0].severity, 'critical');

  // Falco names the pod, its container and the image: the container runs
  // in the pod and comes from the image, so the pod shows the counts.
  const falco = {
    time: iso(T0 + 1000),
    rule: 'Terminal shell in container',
    priority: 'Notice',
    output: 'shell',
    source: 'syscall',
    hostname: 'node-1',
    tags: ['T1059', 'mitre_execution'],
    output_fields: {
      'container.id': 'abcdef012345', 'container.name': 'api', 'container.image.repository': 'reg.example/api',
      'container.image.tag': '5', 'k8s.pod.name': 'api-0', 'k8s.ns.name': 'ns', 'proc.name': 'sh',
    },
  };
  const f = await as(srv.url, { bearer: tok }, 'POST', '/api/v1/ingest/falco?cluster=tv', { body: falco });
  assert.equal(f.status, 200, f.text);
  await mustPost(report('reg.example/api:5', 'ddd4', [['CVE-5', 'HIGH']]));
  const api = await pane('pod:tv/ns/api-0');
  assert.equal(api.vulnerabilities.counts.high, 1);
  assert.ok(api.details.images.includes('reg.example/api:5'));
  // Kinds that run no image have no vulnerabilities section.
  assert.equal((await pane('namespace:tv/ns')).vulnerabilities, null);
});

test('viewers and read-only tokens are refused; analysts post', async () => {
  assertError(await post(ALPINE_39, { who: vic }), 403, 'forbidden', 'Requires Alerts: Manage');
  assertError(await post(ALPINE_39, { who: { bearer: readTok } }), 403, 'forbidden', 'Requires Alerts: Manage');
  assertError(await post(ALPINE_39, { who: null }), 401, 'unauthorized');
  assert.equal((await post(ALPINE_39, { who: ana })).status, 200);
});

test('malformed reports are refused whole with a message', async () => {
  const base = report('reg.example/bad:1', 'eee5', [['CVE-1', 'HIGH']]);
  const mutate = (fn) => { const r = structuredClone(base); fn(r); return r; };
  await refused(mutate((r) => { r.SchemaVersion = 1; }), { re: /^SchemaVersion: 1 is not supported \(expected 2\)$/ });
  await refused(mutate((r) => { delete r.SchemaVersion; }), { re: /^SchemaVersion: is required$/ });
  await refused(mutate((r) => { delete r.ArtifactName; }), { re: /^ArtifactName: is required$/ });
  await refused(mutate((r) => { r.ArtifactType = 'repository'; }), { re: /not an image report/ });
  await refused(mutate((r) => { r.Results = 'none'; }), { re: /^Results: expected an array$/ });
  await refused(mutate((r) => { delete r.Results[0].Vulnerabilities[0].PkgName; }), { re: /^Results\[0\]\.Vulnerabilities\[0\]\.PkgName: is required$/ });
  await refused(mutate((r) => { r.Results[0].Vulnerabilities[0].Severity = 'BAD'; }), { re: /Severity: "BAD" is not CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN/ });
  await refused(mutate((r) => { r.Results[0].Vulnerabilities[0].VulnerabilityID = 12; }), { re: /VulnerabilityID: expected a string/ });
  await refused(mutate((r) => { r.Metadata.RepoTags = [{}]; }), { re: /^Metadata\.RepoTags\[0\]: expected a string$/ });
  await refused(mutate((r) => { r.Results[0].Vulnerabilities[0].Title = 'x'.repeat(5000); }), { re: /Title: 5000 bytes exceeds the limit of 1023/ });
  await refused('[]', { re: /expected one Trivy JSON report/ });
  await refused('', { re: /^empty body$/ });
  await refused('{"SchemaVersion": 2,', { re: /^malformed JSON/ });
  await refused('{"SchemaVersion": 2, "SchemaVersion": 2, "ArtifactName": "a"}', { re: /duplicate/ });
  await refused(ALPINE_39, { query: '?image=has%20space', re: /^image: expected an image reference/ });
});

test('huge arrays and strings: 413', async () => {
  const huge = report('reg.example/huge:1', 'fff6', []);
  huge.Results[0].Vulnerabilities = Array.from({ length: 20001 }, (_, i) => ({ VulnerabilityID: `C-${i}`, PkgName: 'p', Severity: 'LOW' }));
  await refused(huge, { status: 413, re: /^Results\[0\]\.Vulnerabilities: more than 20000 vulnerabilities in the report$/ });
  const results = report('reg.example/huge:1', 'fff6', []);
  results.Results = Array.from({ length: 1001 }, () => ({ Target: 't' }));
  await refused(results, { status: 413, re: /^Results: 1001 items exceeds the limit of 1000$/ });
  const tags = report('reg.example/huge:1', 'fff6', []);
  tags.Metadata.RepoTags = Array.from({ length: 65 }, (_, i) => `reg.example/huge:${i}`);
  await refused(tags, { status: 413, re: /^Metadata\.RepoTags: 65 items exceeds the limit of 64$/ });
  const big = report('reg.example/huge:1', 'fff6', []);
  big.Padding = 'x'.repeat(10 * MB);
  const r = await post(big);
  assertError(r, 413, 'too_large');
});
