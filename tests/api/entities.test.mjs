// GET /api/v1/entities/{id}: the entity side pane. A pod with its details
// (cluster, namespace, node, images, labels, status, isolation, restarts,
// the response actions' target), its latest 50 alerts, its incidents (open
// first), its edges with the entities at their other end, the
// vulnerability counts of the images it runs and the attack paths through
// it; clusters, images, identities, addresses and cloud resources with the
// facts of their kind. PATCH sets the crown. Viewers read; changes need
// Alerts: Manage.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, sqlite } from './lib/server.mjs';
import { addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { HOUR, T0, alert, pod, ip, mustPost, getJson, allIncidents } from './lib/incidents.mjs';

let srv;
let tok;
let ana;
let vic;

before(async () => {
  const dir = makeTempDir('stockade-entities-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'ana', role: 'analyst', password: 'ana-password-1234' },
    { name: 'vic', role: 'viewer', password: 'vic-password-1234' },
  ]);
  tok = await cliToken(db, 'ent-manage', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });
  ana = await signIn(srv.url, 'ana', 'ana-password-1234');
  vic = await signIn(srv.url, 'vic', 'vic-password-1234');

  // 60 alerts on the pod in one incident, which is then resolved; a later
  // alert opens a second incident.
  const web = pod('ent', 'shop', 'web-0');
  const batch = Array.from({ length: 60 }, (_, i) => alert(`ent-${i}`, {
    clusterName: 'ent', at: T0 + i * 60000, title: `Alert ${i}`, severity: i === 59 ? 'high' : 'low',
    entities: [{ ...web, properties: { image: 'reg.example/web:1', ip: '10.1.2.3' } }, ip('198.51.100.9')],
  }));
  await mustPost(srv.url, tok, batch);
  const [first] = await allIncidents(srv.url, tok, 'cluster=ent');
  const r = await as(srv.url, { bearer: tok }, 'PATCH', `/api/v1/incidents/${first.id}`,
    { body: { status: 'resolved', classification: 'false_positive', determination: 'not_malicious' } });
  assert.equal(r.status, 200, r.text);
  await mustPost(srv.url, tok, alert('ent-late', { clusterName: 'ent', at: T0 + 2 * HOUR, title: 'Late alert', entities: [web] }));

  const inv = await as(srv.url, { bearer: tok }, 'POST', '/api/v1/inventory', {
    body: {
      entities: [
        { kind: 'cluster', key: 'cluster:ent', properties: { cloud: 'aks', kubernetes_version: '1.29.7', network_policy: 'azure-npm', network_policy_version: '1.5.34', agent: { status: 'connected' } } },
        { kind: 'pod', key: 'pod:ent/shop/web-0', properties: { labels: { app: 'web' }, status: 'Running', restarts: 2, isolated: false } },
        { kind: 'node', key: 'node:ent/node-7' },
        { kind: 'image', key: 'image:reg.example/web:1' },
        { kind: 'service', key: 'service:ent/shop/web', properties: { type: 'LoadBalancer', external_ip: '203.0.113.9' } },
        { kind: 'identity', key: 'identity:mi-ent', properties: { type: 'managed identity', cloud: 'azure' } },
        { kind: 'cloud-resource', key: 'cloud-resource:az/ent-sa', name: 'ent-sa', properties: { provider: 'azure', type: 'Storage account', region: 'westeurope' }, critical: true },
      ],
      edges: [
        { from: 'pod:ent/shop/web-0', to: 'node:ent/node-7', kind: 'runs-on' },
        { from: 'pod:ent/shop/web-0', to: 'image:reg.example/web:1', kind: 'from-image' },
        { from: 'service:ent/shop/web', to: 'internet:', kind: 'exposed-to-internet' },
        { from: 'service:ent/shop/web', to: 'pod:ent/shop/web-0', kind: 'routes-to' },
        { from: 'pod:ent/shop/web-0', to: 'identity:mi-ent', kind: 'uses-identity' },
        { from: 'identity:mi-ent', to: 'cloud-resource:az/ent-sa', kind: 'can-access', properties: { role: 'Owner' } },
      ],
    },
  });
  assert.equal(inv.status, 200, inv.text);
  const tv = await as(srv.url, { bearer: tok }, 'POST', '/api/v1/ingest/trivy', {
    body: {
      SchemaVersion: 2, ArtifactName: 'reg.example/web:1', Metadata: { RepoTags: ['reg.example/web:1'] },
      Results: [{ Target: 't', Vulnerabilities: [
        { VulnerabilityID: 'CVE-1', PkgName: 'a', Severity: 'CRITICAL' },
        { VulnerabilityID: 'CVE-2', PkgName: 'b', Severity: 'HIGH' },
        { VulnerabilityID: 'CVE-3', PkgName: 'c', Severity: 'LOW' },
      ] }],
    },
  });
  assert.equal(tv.status, 200, tv.text);
});

function idOf(key) {
  const id = sqlite(srv.dbPath, `.timeout 5000\nSELECT id FROM entities WHERE key = '${key}';`);
  assert.ok(id, `no entity ${key}`);
  return Number(id);
}

const pane = (key, who = { bearer: tok }) => getJsonAs(who, `/api/v1/entities/${idOf(key)}`);
async function getJsonAs(who, target) {
  const r = await as(srv.url, who, 'GET', target);
  assert.equal(r.status, 200, `${target}: ${r.text}`);
  return r.json;
}

test('a pod: details, the response target, and the images it runs with their findings', async () => {
  const p = await pane('pod:ent/shop/web-0');
  assert.equal(p.kind, 'pod');
  assert.equal(p.name, 'web-0');
  assert.equal(p.cluster, 'ent');
  assert.equal(p.critical, false);
  assert.equal(p.internet_exposed, true);
  const d = p.details;
  assert.equal(d.cluster, 'ent');
  assert.equal(d.namespace, 'shop');
  assert.equal(d.node, 'node-7'); // from the runs-on edge
  assert.deepEqual(d.images, ['reg.example/web:1']);
  assert.deepEqual(d.labels, { app: 'web' });
  assert.equal(d.status, 'Running');
  assert.equal(d.restarts, 2);
  assert.equal(d.isolated, false);
  assert.equal(d.ip, '10.1.2.3'); // the alert's property, kept by the merge
  assert.deepEqual(d.response_target, { cluster: 'ent', namespace: 'shop', pod: 'web-0' });
  assert.deepEqual(p.vulnerabilities.counts, { critical: 1, high: 1, medium: 0, low: 1, unknown: 0, total: 3 });
  assert.equal(p.vulnerabilities.images[0].key, 'image:reg.example/web:1');
  assert.deepEqual(p.vulnerabilities.top.map((v) => v.id), ['CVE-1', 'CVE-2', 'CVE-3']);
  assert.deepEqual(p.properties.labels, { app: 'web' });
  assert.ok(p.first_seen && p.last_seen);
});

test('the latest 50 alerts, the total, and the incidents with open ones first', async () => {
  const p = await pane('pod:ent/shop/web-0');
  assert.equal(p.alerts_total, 61);
  assert.equal(p.alerts.length, 50);
  assert.equal(p.alerts[0].title, 'Late alert');
  assert.equal(p.alerts[1].title, 'Alert 59');
  assert.equal(p.alerts[1].severity, 'high');
  for (let i = 1; i < p.alerts.length; i++) {
    assert.ok(p.alerts[i - 1].last_activity >= p.alerts[i].last_activity);
  }
  assert.deepEqual(Object.keys(p.alerts[0]).sort(),
    ['first_activity', 'id', 'incident_id', 'last_activity', 'provider', 'rule', 'severity', 'tactic', 'title']);
  assert.equal(p.incidents.length, 2);
  assert.equal(p.incidents[0].status, 'active');
  assert.equal(p.incidents[0].entity_alert_count, 1);
  assert.equal(p.incidents[1].status, 'resolved');
  assert.equal(p.incidents[1].entity_alert_count, 60);
  assert.equal(p.alerts[0].incident_id, p.incidents[0].id);
});

test('edges with the entity at the other end, and the attack paths through the pod', async () => {
  const p = await pane('pod:ent/shop/web-0');
  const find = (dir, kind) => p.edges.find((x) => x.direction === dir && x.kind === kind);
  assert.equal(find('out', 'runs-on').entity.key, 'node:ent/node-7');
  assert.equal(find('out', 'uses-identity').entity.key, 'identity:mi-ent');
  assert.equal(find('in', 'routes-to').entity.key, 'service:ent/shop/web');
  assert.equal(find('out', 'uses-identity').source, 'inventory');
  assert.equal(find('out', 'talked-to').source, 'alert'); // the alerts' pod and address
  assert.equal(p.edges_truncated, false);
  assert.equal(p.attack_paths.counts.critical, 1);
  assert.equal(p.attack_paths.items.length, 1);
  assert.match(p.attack_paths.items[0].title, /^Internet-exposed pod web-0 with critical vulnerabilities can reach Storage account ent-sa$/);
  // The identity on the path shows it too; the service (exposure, not a step) does not.
  assert.equal((await pane('identity:mi-ent')).attack_paths.items.length, 1);
  assert.equal((await pane('service:ent/shop/web')).attack_paths.items.length, 0);
});

test('other kinds: cluster, service, image, identity, address, cloud resource', async () => {
  const c = await pane('cluster:ent');
  assert.deepEqual(c.details, {
    cloud: 'aks', region: null, kubernetes_version: '1.29.7',
    network_policy: { plugin: 'azure-npm', version: '1.5.34' }, agent: { status: 'connected' },
  });
  assert.equal(c.vulnerabilities, null);
  const s = await pane('service:ent/shop/web');
  assert.equal(s.details.type, 'LoadBalancer');
  assert.equal(s.details.external_ip, '203.0.113.9');
  assert.equal(s.details.internet_exposed, true);
  const img = await pane('image:reg.example/web:1');
  assert.equal(img.vulnerabilities.counts.total, 3);
  assert.equal(img.edges.find((x) => x.kind === 'from-image').entity.key, 'pod:ent/shop/web-0');
  const id = await pane('identity:mi-ent');
  assert.equal(id.details.type, 'managed identity');
  assert.equal(id.details.cloud, 'azure');
  const addr = await pane('ip:198.51.100.9');
  assert.equal(addr.details.address, '198.51.100.9');
  assert.equal(addr.details.anonymising_proxy, false);
  assert.equal(addr.alerts_total, 60);
  const sa = await pane('cloud-resource:az/ent-sa');
  assert.deepEqual(sa.details, { provider: 'azure', type: 'Storage account', group: null, region: 'westeurope' });
  assert.equal(sa.critical, true);
  assert.equal(sa.alerts.length, 0);
  assert.equal(sa.incidents.length, 0);
  const internet = await pane('internet:');
  assert.equal(internet.name, 'Internet');
  assert.equal(internet.edges[0].kind, 'exposed-to-internet');
});

test('viewers read the pane; the crown needs Alerts: Manage and flags incidents high impact', async () => {
  const p = await pane('pod:ent/shop/web-0', vic);
  assert.equal(p.key, 'pod:ent/shop/web-0');
  const target = `/api/v1/entities/${p.id}`;
  assertError(await as(srv.url, vic, 'PATCH', target, { body: { critical: true } }), 403, 'forbidden', 'Requires Alerts: Manage');
  assertError(await as(srv.url, ana, 'PATCH', target, { body: { critical: 'yes' } }), 400, 'invalid_request', 'expected {"critical": true|false}');
  assertError(await as(srv.url, ana, 'PATCH', target, { body: { critical: true, name: 'x' } }), 400, 'invalid_request');
  const r = await as(srv.url, ana, 'PATCH', target, { body: { critical: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.critical, true);
  assert.equal(r.json.key, 'pod:ent/shop/web-0');
  const open = (await allIncidents(srv.url, tok, 'cluster=ent&status=active'))[0];
  assert.equal(open.high_impact, true);
  const audit = sqlite(srv.dbPath, `.timeout 5000\nSELECT actor FROM audit_log WHERE action = 'entity.critical' AND target = 'entity:${p.id}';`);
  assert.equal(audit, 'ana');
});

test('unknown and malformed ids are 404', async () => {
  for (const id of ['999999', 'abc', '0', '-1', '99999999999999999999999']) {
    assertError(await as(srv.url, { bearer: tok }, 'GET', `/api/v1/entities/${id}`), 404, 'not_found', undefined, id);
  }
  assertError(await as(srv.url, ana, 'PATCH', '/api/v1/entities/999999', { body: { critical: true } }), 404, 'not_found');
});
