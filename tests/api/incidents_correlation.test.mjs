// Correlation (issue 4): alerts sharing a pod, identity, IP (24 h window) or
// only a namespace (30 min window) join one incident; an alert linking two
// incidents merges them, the older surviving; the same alerts in any order
// and any batching give the same incidents; the same alert twice is stored
// once; analysts' moves and splits are respected by later correlation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, sqlite } from './lib/server.mjs';
import { request, addUsers, cliToken } from './lib/auth.mjs';
import {
  HOUR, T0, alert, pod, ns, identity, ip, mustPost, postAlerts, getJson, placement, partition,
  shuffle,
} from './lib/incidents.mjs';

let srv;
let tok;

before(async () => {
  const dir = makeTempDir('stockade-corr-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [{ name: 'corr-admin', role: 'admin', password: 'corr-password-1' }]);
  tok = await cliToken(db, 'corr-ingest', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });
});

const sq = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`);

/** The scenario of the determinism test, in cluster `c`. */
function scenario(c) {
  const id = (n) => `${c}-a${n}`;
  const p = (n) => pod(c, 'shop', `p${n}`);
  return [
    alert(id(1), { clusterName: c, at: T0, entities: [p(1)] }),
    alert(id(2), { clusterName: c, at: T0 + HOUR, entities: [p(2)] }),
    alert(id(3), { clusterName: c, at: T0 + 2 * HOUR, entities: [p(1), p(2)] }),
    alert(id(4), { clusterName: c, at: T0 + 30 * HOUR, entities: [p(1)] }),
    alert(id(5), { clusterName: c, at: T0 + 29 * HOUR, entities: [identity(c, 'u1'), p(3)] }),
    alert(id(6), { clusterName: c, at: T0 + 31 * HOUR, entities: [identity(c, 'u1'), p(1)] }),
    alert(id(7), { clusterName: c, at: T0 + 50 * HOUR, entities: [ns(c, 'ns1')] }),
    alert(id(8), { clusterName: c, at: T0 + 50 * HOUR + 10 * 60000, entities: [ns(c, 'ns1')] }),
    alert(id(9), { clusterName: c, at: T0 + 52 * HOUR, entities: [ns(c, 'ns1')] }),
    alert(id(10), { clusterName: c, at: T0 + 60 * HOUR, entities: [ip(`203.0.113.${c.length}${c.charCodeAt(c.length - 1) % 10}`)] }),
    alert(id(11), { clusterName: c, at: T0 + 61 * HOUR, entities: [ip(`203.0.113.${c.length}${c.charCodeAt(c.length - 1) % 10}`)] }),
  ];
}

const expected = (c) => [
  [1, 2, 3], [4, 5, 6], [7, 8], [9], [10, 11],
].map((g) => g.map((n) => `${c}-a${n}`).sort().join(',')).sort();

test('the same alerts in any order and batching give the same incidents', async () => {
  const orders = [
    { c: 'det0', seed: 0, batch: 11 },
    { c: 'det1', seed: 7, batch: 1 },
    { c: 'det2', seed: 99, batch: 3 },
    { c: 'det3', seed: 12345, batch: 1 },
    { c: 'det4', seed: 4242, batch: 2 },
  ];
  for (const { c, seed, batch } of orders) {
    const alerts = seed === 0 ? scenario(c) : shuffle(scenario(c), seed);
    for (let i = 0; i < alerts.length; i += batch) {
      await mustPost(srv.url, tok, alerts.slice(i, i + batch));
    }
    const where = await placement(srv.url, tok, `cluster=${c}`);
    const exts = alerts.map((a) => a.id);
    assert.deepEqual(partition(where, exts), expected(c), `order ${c} (seed ${seed}, batch ${batch})`);
  }
});

test('the same alert twice is stored once, in one batch or across batches', async () => {
  const a = alert('dup-1', { clusterName: 'dup', entities: [pod('dup', 'x', 'p')] });
  const first = await mustPost(srv.url, tok, [a, a]);
  assert.equal(first.alerts_new, 1);
  assert.equal(first.alerts_duplicate, 1);
  const again = await mustPost(srv.url, tok, a);
  assert.equal(again.alerts_new, 0);
  assert.equal(again.alerts_duplicate, 1);
  const where = await placement(srv.url, tok, 'cluster=dup');
  const inc = await getJson(srv.url, tok, `/api/v1/incidents/${where.get('dup-1')}`);
  assert.equal(inc.alert_count, 1);
  assert.equal(inc.alerts.length, 1);
});

test('an alert linking two incidents merges them; the older survives and records it', async () => {
  const c = 'merge';
  const older = await mustPost(srv.url, tok, alert('m-1', { clusterName: c, at: T0, entities: [pod(c, 'a', 'x')] }));
  assert.equal(older.incidents_created, 1);
  await mustPost(srv.url, tok, alert('m-2', { clusterName: c, at: T0 + HOUR, entities: [pod(c, 'a', 'y')] }));
  let where = await placement(srv.url, tok, `cluster=${c}`);
  const [first, second] = [where.get('m-1'), where.get('m-2')];
  assert.notEqual(first, second);
  const link = await mustPost(srv.url, tok, alert('m-3', {
    clusterName: c, at: T0 + 2 * HOUR, entities: [pod(c, 'a', 'x'), pod(c, 'a', 'y')],
  }));
  assert.equal(link.incidents_merged, 1);
  where = await placement(srv.url, tok, `cluster=${c}`);
  for (const e of ['m-1', 'm-2', 'm-3']) assert.equal(where.get(e), Math.min(first, second), e);
  const gone = await getJson(srv.url, tok, `/api/v1/incidents/${Math.max(first, second)}`);
  assert.equal(gone.status, 'merged');
  assert.equal(gone.merged_into, Math.min(first, second));
  assert.ok(gone.history.some((h) => h.kind === 'merged_into'), JSON.stringify(gone.history));
  const kept = await getJson(srv.url, tok, `/api/v1/incidents/${Math.min(first, second)}`);
  assert.equal(kept.alert_count, 3);
  assert.ok(kept.history.some((h) => h.kind === 'merged'), JSON.stringify(kept.history));
  // The merged incident is not in the queue.
  const q = await getJson(srv.url, tok, `/api/v1/incidents?cluster=${c}`);
  assert.deepEqual(q.items.map((i) => i.id), [Math.min(first, second)]);
});

test('the window bounds correlation: 24 h for a pod, 30 min for a namespace alone', async () => {
  const c = 'win';
  await mustPost(srv.url, tok, [
    alert('w-1', { clusterName: c, at: T0, entities: [pod(c, 'n', 'p')] }),
    alert('w-2', { clusterName: c, at: T0 + 24 * HOUR, entities: [pod(c, 'n', 'p')] }),
    alert('w-3', { clusterName: c, at: T0 + 48 * HOUR + 1, entities: [pod(c, 'n', 'p')] }),
    alert('w-4', { clusterName: c, at: T0 + 100 * HOUR, entities: [ns(c, 'n2')] }),
    alert('w-5', { clusterName: c, at: T0 + 100 * HOUR + 30 * 60000, entities: [ns(c, 'n2')] }),
    alert('w-6', { clusterName: c, at: T0 + 100 * HOUR + 61 * 60000, entities: [ns(c, 'n2')] }),
  ]);
  const where = await placement(srv.url, tok, `cluster=${c}`);
  assert.deepEqual(partition(where, ['w-1', 'w-2', 'w-3', 'w-4', 'w-5', 'w-6']),
    ['w-1,w-2', 'w-3', 'w-4,w-5', 'w-6']);
});

test('incident severity is the maximum, the title names tactics and the main entity', async () => {
  const c = 'prod-aks';
  const web = pod(c, 'shop', 'web-7f9');
  await mustPost(srv.url, tok, [
    alert('t-1', { clusterName: c, at: T0, severity: 'low', tactic: 'execution', entities: [web] }),
    alert('t-2', { clusterName: c, at: T0 + 60000, severity: 'high', tactic: 'credential_access', entities: [web, identity(c, 'sp-app')] }),
  ]);
  const where = await placement(srv.url, tok, `cluster=${c}`);
  const inc = await getJson(srv.url, tok, `/api/v1/incidents/${where.get('t-1')}`);
  assert.equal(inc.severity, 'high');
  assert.equal(inc.title, 'Multi-stage incident involving Execution & Credential access on pod web-7f9 in prod-aks');
  assert.deepEqual(inc.tactics, ['execution', 'credential_access']);
  assert.deepEqual(inc.sources, ['api']);
  assert.deepEqual(inc.clusters, ['prod-aks']);
  assert.equal(inc.alert_count, 2);
  assert.equal(inc.entity_count, 3);
});

test('marking an entity critical flags its incidents high impact, and unmarking clears it', async () => {
  const c = 'crit';
  await mustPost(srv.url, tok, alert('cr-1', { clusterName: c, entities: [pod(c, 'db', 'sql-0')] }));
  const where = await placement(srv.url, tok, `cluster=${c}`);
  const inc = await getJson(srv.url, tok, `/api/v1/incidents/${where.get('cr-1')}`);
  assert.equal(inc.high_impact, false);
  const podEntity = inc.entities.find((e) => e.kind === 'pod');
  let r = await request(srv.url, 'PATCH', `/api/v1/entities/${podEntity.id}`, { bearer: tok, body: { critical: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.critical, true);
  assert.equal((await getJson(srv.url, tok, `/api/v1/incidents/${inc.id}`)).high_impact, true);
  // A new incident touching a critical entity is high impact from the start.
  await mustPost(srv.url, tok, alert('cr-2', { clusterName: c, at: T0 + 100 * HOUR, entities: [pod(c, 'db', 'sql-0')] }));
  const later = await placement(srv.url, tok, `cluster=${c}`);
  assert.equal((await getJson(srv.url, tok, `/api/v1/incidents/${later.get('cr-2')}`)).high_impact, true);
  r = await request(srv.url, 'PATCH', `/api/v1/entities/${podEntity.id}`, { bearer: tok, body: { critical: false } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await getJson(srv.url, tok, `/api/v1/incidents/${inc.id}`)).high_impact, false);
  r = await request(srv.url, 'PATCH', `/api/v1/entities/${podEntity.id}`, { bearer: tok, body: { critical: 'yes' } });
  assert.equal(r.status, 400);
  assert.ok(Number(sq(`SELECT count(*) FROM audit_log WHERE action = 'entity.critical';`)) >= 2);
});

test('a moved alert stays where the analyst put it and does not link new alerts', async () => {
  const c = 'move';
  const p = pod(c, 'n', 'm1');
  await mustPost(srv.url, tok, [
    alert('mv-1', { clusterName: c, at: T0, entities: [p] }),
    alert('mv-2', { clusterName: c, at: T0 + 10 * HOUR, entities: [p] }),
    alert('mv-other', { clusterName: c, at: T0, entities: [pod(c, 'n', 'unrelated')] }),
  ]);
  let where = await placement(srv.url, tok, `cluster=${c}`);
  const home = where.get('mv-1');
  const other = where.get('mv-other');
  const moved = (await getJson(srv.url, tok, `/api/v1/incidents/${home}`)).alerts.find((a) => a.evidence.ext === 'mv-2');
  const r = await request(srv.url, 'POST', `/api/v1/alerts/${moved.id}/move`, { bearer: tok, body: { incident_id: other } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.pinned, true);
  // A new alert near mv-2's time on the same pod joins mv-1's incident (via
  // mv-1, 20 h away) and pulls nothing back.
  await mustPost(srv.url, tok, alert('mv-3', { clusterName: c, at: T0 + 11 * HOUR, entities: [p] }));
  where = await placement(srv.url, tok, `cluster=${c}`);
  assert.equal(where.get('mv-2'), other);
  assert.equal(where.get('mv-3'), home);
  const h1 = await getJson(srv.url, tok, `/api/v1/incidents/${home}`);
  const h2 = await getJson(srv.url, tok, `/api/v1/incidents/${other}`);
  assert.ok(h1.history.some((h) => h.kind === 'alert_moved_out'));
  assert.ok(h2.history.some((h) => h.kind === 'alert_moved_in'));
  assert.equal(h2.alert_count, 2);
  const bad = await request(srv.url, 'POST', `/api/v1/alerts/${moved.id}/move`, { bearer: tok, body: { incident_id: 999999 } });
  assert.equal(bad.status, 400, bad.text);
});

test('split moves alerts into a new incident; merge by hand joins incidents', async () => {
  const c = 'split';
  const p = pod(c, 'n', 's1');
  await mustPost(srv.url, tok, [1, 2, 3].map((n) => alert(`sp-${n}`, { clusterName: c, at: T0 + n * 60000, entities: [p] })));
  let where = await placement(srv.url, tok, `cluster=${c}`);
  const id = where.get('sp-1');
  const inc = await getJson(srv.url, tok, `/api/v1/incidents/${id}`);
  const out = inc.alerts.find((a) => a.evidence.ext === 'sp-3');
  let r = await request(srv.url, 'POST', `/api/v1/incidents/${id}/split`, { bearer: tok, body: { alert_ids: [out.id] } });
  assert.equal(r.status, 201, r.text);
  const fresh = r.json.id;
  assert.equal(r.json.alert_count, 1);
  where = await placement(srv.url, tok, `cluster=${c}`);
  assert.equal(where.get('sp-3'), fresh);
  assert.equal(where.get('sp-2'), id);
  r = await request(srv.url, 'POST', `/api/v1/incidents/${id}/split`, { bearer: tok, body: { alert_ids: inc.alerts.filter((a) => a.evidence.ext !== 'sp-3').map((a) => a.id) } });
  assert.equal(r.status, 400, 'splitting every alert out is refused');
  r = await request(srv.url, 'POST', `/api/v1/incidents/${id}/merge`, { bearer: tok, body: { incident_ids: [fresh] } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.alert_count, 3);
  r = await request(srv.url, 'POST', `/api/v1/incidents/${id}/merge`, { bearer: tok, body: { incident_ids: [id] } });
  assert.equal(r.status, 409, r.text);
  const hist = (await getJson(srv.url, tok, `/api/v1/incidents/${id}`)).history.map((h) => h.kind);
  assert.ok(hist.includes('split') && hist.includes('merged'), hist.join());
  assert.ok(Number(sq(`SELECT count(*) FROM audit_log WHERE action IN ('incident.split', 'incident.merge');`)) >= 2);
});

test('a batch with one bad element is refused whole, naming its index', async () => {
  const before = sq('SELECT count(*) FROM alerts;');
  const r = await postAlerts(srv.url, tok, [
    alert('bad-1', { clusterName: 'bad' }),
    alert('bad-2', { clusterName: 'bad' }),
    { ...alert('bad-3', { clusterName: 'bad' }), severity: 'extreme' },
  ]);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.index, 2);
  assert.match(r.json.error.message, /severity/);
  assert.equal(sq('SELECT count(*) FROM alerts;'), before);
});

test('correlation probes indexes only: the cost of an alert does not grow with the data', () => {
  const plan = sq(`EXPLAIN QUERY PLAN SELECT a.incident_id FROM alert_entities ae JOIN alerts a ON a.id = ae.alert_id
    WHERE ae.entity_id = 1 AND ae.corr = 1 AND ae.ts <= 5 AND ae.ts >= 1 ORDER BY ae.ts DESC LIMIT 1;`);
  assert.match(plan, /SEARCH ae USING (COVERING )?INDEX alert_entities_link/);
  assert.match(plan, /SEARCH a USING INTEGER PRIMARY KEY/);
  assert.doesNotMatch(plan, /\bSCAN\b|TEMP B-TREE/);
});
