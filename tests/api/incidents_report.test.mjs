// The incident report (GET /api/v1/incidents/{id}/report): one section per
// MITRE tactic present, in kill-chain order, "Other activity" last; the
// entities; isolate/terminate links for each pod; deterministic bytes, and
// the same story whatever the order the alerts arrived in.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir } from './lib/server.mjs';
import { request, addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { HOUR, T0, alert, pod, identity, mustPost, getJson, placement, shuffle } from './lib/incidents.mjs';

const MIN = 60000;
const KILL_CHAIN = [
  ['initial_access', 'Initial access'], ['execution', 'Execution'], ['persistence', 'Persistence'],
  ['privilege_escalation', 'Privilege escalation'], ['defense_evasion', 'Defense evasion'],
  ['credential_access', 'Credential access'], ['discovery', 'Discovery'],
  ['lateral_movement', 'Lateral movement'], ['collection', 'Collection'],
  ['command_and_control', 'Command and control'], ['exfiltration', 'Exfiltration'], ['impact', 'Impact'],
];

let srv;
let tok;
let viewer;

before(async () => {
  const dir = makeTempDir('stockade-report-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [{ name: 'rita', role: 'viewer', password: 'rita-password-123' }]);
  tok = await cliToken(db, 'report-ingest', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });
  viewer = await signIn(srv.url, 'rita', 'rita-password-123');
});

/** An attack on pods web and db of cluster `c`, tactics deliberately out of
 *  kill-chain order, two alerts of one tactic at the same instant, a
 *  repeated title and two alerts without a tactic. */
function story(c) {
  const web = pod(c, 'shop', 'web');
  const db = pod(c, 'shop', 'db');
  const a = (n, o) => alert(`${c}-${n}`, { clusterName: c, ...o });
  return [
    a('impact', { at: T0 + 5 * HOUR, tactic: 'impact', technique: 'T1496', severity: 'high', title: 'Crypto mining', entities: [web] }),
    a('shell', { at: T0 + HOUR, tactic: 'execution', technique: 'T1059.004', severity: 'medium', title: 'Shell in container', entities: [web] }),
    a('entry', { at: T0, tactic: 'initial_access', technique: 'T1190', severity: 'low', title: 'Exposed dashboard accessed', entities: [web] }),
    a('token', { at: T0 + 2 * HOUR, tactic: 'credential_access', severity: 'medium', title: 'Token read', entities: [web, identity(c, 'sp-app')] }),
    a('odd', { at: T0 + 3 * HOUR, severity: 'informational', title: 'Odd traffic', entities: [web, db] }),
    a('rev', { at: T0 + HOUR, tactic: 'execution', severity: 'high', title: 'Reverse shell', entities: [db] }),
    a('shell2', { at: T0 + HOUR + 10 * MIN, tactic: 'execution', severity: 'low', title: 'Shell in container', entities: [web] }),
    a('scan', { at: T0 + 4 * HOUR, tactic: 'discovery', technique: 'T1046', severity: 'low', title: 'Service scan', entities: [db] }),
    a('priv', { at: T0 + 30 * MIN, tactic: 'privilege_escalation', technique: 'T1611', severity: 'high', title: 'Privileged pod', entities: [db] }),
    a('beacon', { at: T0 + 4 * HOUR + 30 * MIN, tactic: 'command_and_control', severity: 'medium', title: 'Beacon', entities: [web] }),
    a('odd2', { at: T0 + 6 * HOUR, severity: 'low', title: 'Odd DNS', entities: [db] }),
  ];
}

async function incidentOf(c) {
  const where = await placement(srv.url, tok, `cluster=${c}`);
  const ids = new Set(where.values());
  assert.equal(ids.size, 1, `cluster ${c} holds one incident`);
  return [...ids][0];
}

const report = (id, who = { bearer: tok }) => as(srv.url, who, 'GET', `/api/v1/incidents/${id}/report`);

async function mustReport(id) {
  const r = await report(id);
  assert.equal(r.status, 200, r.text);
  return r;
}

test('sections follow the kill chain, only tactics present, other activity last', async () => {
  await mustPost(srv.url, tok, story('rep1'));
  const id = await incidentOf('rep1');
  const { json: rep } = await mustReport(id);
  assert.deepEqual(rep.sections.map((s) => s.tactic), [
    'initial_access', 'execution', 'privilege_escalation', 'credential_access', 'discovery',
    'command_and_control', 'impact', 'other',
  ]);
  assert.deepEqual(rep.sections.map((s) => s.label), [
    'Initial access', 'Execution', 'Privilege escalation', 'Credential access', 'Discovery',
    'Command and control', 'Impact', 'Other activity',
  ]);
  // The order is the kill chain's, a subsequence of it.
  const order = KILL_CHAIN.map(([t]) => t);
  const idx = rep.sections.slice(0, -1).map((s) => order.indexOf(s.tactic));
  assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
  assert.equal(rep.incident.id, id);
  assert.equal(rep.incident.alert_count, 11);
  assert.equal(rep.alerts_truncated, false);
});

test('each section lists its alerts and tells what happened', async () => {
  const id = await incidentOf('rep1');
  const { json: rep } = await mustReport(id);
  const s = Object.fromEntries(rep.sections.map((x) => [x.tactic, x]));
  const titles = (t) => s[t].alerts.map((a) => a.title);
  assert.deepEqual(titles('initial_access'), ['Exposed dashboard accessed']);
  assert.deepEqual(titles('execution').sort(), ['Reverse shell', 'Shell in container', 'Shell in container']);
  assert.deepEqual(titles('privilege_escalation'), ['Privileged pod']);
  assert.deepEqual(titles('credential_access'), ['Token read']);
  assert.deepEqual(titles('discovery'), ['Service scan']);
  assert.deepEqual(titles('command_and_control'), ['Beacon']);
  assert.deepEqual(titles('impact'), ['Crypto mining']);
  assert.deepEqual(titles('other'), ['Odd traffic', 'Odd DNS']);
  assert.deepEqual(s.impact.alerts.map((a) => [a.severity, a.technique]), [['high', 'T1496']]);
  assert.deepEqual(s.privilege_escalation.alerts.map((a) => a.technique), ['T1611']);
  for (const sec of rep.sections) {
    for (const a of sec.alerts) assert.equal(typeof a.id, 'number');
  }
  // Every alert of the incident is in exactly one section.
  const full = await getJson(srv.url, tok, `/api/v1/incidents/${id}`);
  const inSections = rep.sections.flatMap((x) => x.alerts.map((a) => a.id)).sort((a, b) => a - b);
  assert.deepEqual(inSections, full.alerts.map((a) => a.id).sort((a, b) => a - b));

  assert.equal(s.initial_access.text,
    '1 alert between 2026-10-01 08:00:00 UTC and 2026-10-01 08:00:00 UTC (highest severity low): "Exposed dashboard accessed".');
  assert.match(s.execution.text,
    /^3 alerts between 2026-10-01 09:00:00 UTC and 2026-10-01 09:10:00 UTC \(highest severity high\): "(Shell in container" and "Reverse shell|Reverse shell" and "Shell in container)"\.$/);
  assert.equal(s.other.text,
    '2 alerts between 2026-10-01 11:00:00 UTC and 2026-10-01 14:00:00 UTC (highest severity low): "Odd traffic" and "Odd DNS".');

  assert.match(rep.summary, /^Between 2026-10-01 08:00:00 UTC and 2026-10-01 14:00:00 UTC, 11 alerts from API were correlated into this incident, of high severity\./);
  assert.match(rep.summary, /spans 7 MITRE ATT&CK tactics: Initial access, Execution, Privilege escalation, Credential access, Discovery, Command and control and Impact\./);
  // cluster, 2 pods, identity
  assert.match(rep.summary, /It involves 4 entities \(1 cluster, 2 pods?, 1 identity\)\.$/);
});

test('entities and a response for each pod, its target parsed from the pod key', async () => {
  const id = await incidentOf('rep1');
  const { json: rep } = await mustReport(id);
  assert.deepEqual(rep.entities.map((e) => e.key).sort(),
    ['cluster:rep1', 'identity:rep1/sp-app', 'pod:rep1/shop/db', 'pod:rep1/shop/web']);
  const web = rep.entities.find((e) => e.key === 'pod:rep1/shop/web');
  assert.equal(web.kind, 'pod');
  assert.equal(web.name, 'web');
  assert.equal(web.critical, false);
  assert.equal(web.alert_count, 7);
  assert.equal(rep.entities.find((e) => e.key === 'cluster:rep1').alert_count, 11);
  // Most-involved entities first.
  const counts = rep.entities.map((e) => e.alert_count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));

  const db = rep.entities.find((e) => e.key === 'pod:rep1/shop/db');
  const expected = [];
  for (const e of rep.entities.filter((x) => x.kind === 'pod')) {
    for (const [type, verb] of [['isolate', 'Isolate'], ['terminate', 'Terminate']]) {
      expected.push({
        type,
        label: `${verb} pod ${e.name}`,
        target: { cluster: 'rep1', namespace: 'shop', pod: e.name },
        entity_id: e.id,
        href: `/incidents/${id}#respond-${type}-${e.id}`,
      });
    }
  }
  assert.equal(expected.length, 4);
  assert.deepEqual(rep.responses, expected);
  assert.ok(rep.responses.some((r) => r.entity_id === db.id && r.type === 'terminate'));
});

test('the report is deterministic: two GETs give the same bytes', async () => {
  const id = await incidentOf('rep1');
  const a = await mustReport(id);
  const b = await mustReport(id);
  assert.equal(a.text, b.text);
  assert.match(a.headers['content-type'], /^application\/json/);
});

/** The report with everything that names the cluster or an id blanked. */
function normalise(rep, c) {
  const text = JSON.stringify(rep)
    .replaceAll(c, 'CLUSTER')
    .replace(/"(id|entity_id)":\d+/g, '"$1":0')
    .replace(/\/incidents\/\d+#respond-(\w+)-\d+/g, '/incidents/N#respond-$1-N');
  const v = JSON.parse(text);
  delete v.incident; // created_at/updated_at are times of ingestion
  return v;
}

test('the same alerts in another order, in another cluster, tell the same story', async () => {
  const ref = normalise((await mustReport(await incidentOf('rep1'))).json, 'rep1');
  const orders = [
    { c: 'rep2', seed: 3, batch: 1 },
    { c: 'rep3', seed: 77, batch: 4 },
    { c: 'rep4', seed: 2024, batch: 11 },
  ];
  for (const { c, seed, batch } of orders) {
    const alerts = shuffle(story(c), seed).reverse();
    for (let i = 0; i < alerts.length; i += batch) await mustPost(srv.url, tok, alerts.slice(i, i + batch));
    const rep = normalise((await mustReport(await incidentOf(c))).json, c);
    assert.deepEqual(rep.sections.map((s) => s.tactic), ref.sections.map((s) => s.tactic), c);
    assert.deepEqual(rep.entities, ref.entities, `${c} entities`);
    assert.deepEqual(rep.responses, ref.responses, `${c} responses`);
    assert.equal(rep.summary, ref.summary, `${c} summary`);
    for (let i = 0; i < ref.sections.length; i++) {
      assert.equal(rep.sections[i].text, ref.sections[i].text, `${c} ${ref.sections[i].tactic} text`);
      assert.deepEqual(rep.sections[i].alerts, ref.sections[i].alerts, `${c} ${ref.sections[i].tactic} alerts`);
    }
  }
});

test('a pod key without cluster/namespace/name gets no response link', async () => {
  const c = 'rep-odd';
  await mustPost(srv.url, tok, [
    alert('odd-1', { clusterName: c, tactic: 'execution', entities: [{ kind: 'pod', key: 'pod:lonely', name: 'lonely' }, identity(c, 'u9')] }),
    alert('odd-2', { clusterName: c, at: T0 + MIN, entities: [{ kind: 'pod', key: `pod:${c}//nameless-ns`, name: 'x' }, identity(c, 'u9')] }),
    alert('odd-3', { clusterName: c, at: T0 + 2 * MIN, entities: [pod(c, 'ns1', 'good'), identity(c, 'u9')] }),
  ]);
  const { json: rep } = await mustReport(await incidentOf(c));
  assert.deepEqual(rep.responses.map((r) => [r.type, r.target]), [
    ['isolate', { cluster: c, namespace: 'ns1', pod: 'good' }],
    ['terminate', { cluster: c, namespace: 'ns1', pod: 'good' }],
  ]);
});

test('a critical pod is named in the summary', async () => {
  const c = 'rep-crit';
  await mustPost(srv.url, tok, alert('crit-1', { clusterName: c, tactic: 'impact', entities: [pod(c, 'db', 'sql-0')] }));
  const id = await incidentOf(c);
  const full = await getJson(srv.url, tok, `/api/v1/incidents/${id}`);
  const p = full.entities.find((e) => e.kind === 'pod');
  const r = await request(srv.url, 'PATCH', `/api/v1/entities/${p.id}`, { bearer: tok, body: { critical: true } });
  assert.equal(r.status, 200, r.text);
  const { json: rep } = await mustReport(id);
  assert.match(rep.summary, /Critical assets involved: pod sql-0\./);
  assert.equal(rep.entities.find((e) => e.id === p.id).critical, true);
  assert.equal(rep.incident.high_impact, true);
});

test('the summary\'s words agree with its numbers', async () => {
  const c = 'rep-one';
  await mustPost(srv.url, tok, alert('one-1', { clusterName: c, tactic: 'execution', entities: [pod(c, 'n', 'a')] }));
  const { json: one } = await mustReport(await incidentOf(c));
  assert.match(one.summary, /, 1 alert from API was correlated into this incident, of medium severity\. /);
  assert.match(one.summary, /The activity spans 1 MITRE ATT&CK tactic: Execution\. It involves 2 entities \(1 cluster, 1 pod\)\.$/);
  const { json: many } = await mustReport(await incidentOf('rep1'));
  assert.match(many.summary, /, 11 alerts from API were correlated/);
  assert.match(many.summary, /It involves 4 entities \(1 cluster, 2 pods, 1 identity\)\.$/);
});

test('a viewer can read the report; unknown incidents are 404; anonymous is 401', async () => {
  const id = await incidentOf('rep1');
  const r = await report(id, viewer);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.sections.length, 8);
  for (const bad of ['999999', '0', 'abc']) {
    assertError(await report(bad), 404, 'not_found', undefined, bad);
  }
  assertError(await request(srv.url, 'GET', `/api/v1/incidents/${id}/report`), 401, 'unauthorized');
});

test('the report page answers HTML for a signed-in user', async () => {
  const id = await incidentOf('rep1');
  const r = await as(srv.url, viewer, 'GET', `/incidents/${id}/report`, { headers: { Accept: 'text/html' } });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.match(r.text, /<html/i);
  assert.match(r.text, /report/i);
  // Without Accept it is the page too.
  const plain = await as(srv.url, viewer, 'GET', `/incidents/${id}/report`);
  assert.equal(plain.status, 200);
  assert.match(plain.headers['content-type'], /^text\/html/);
  // Asked for JSON, the same address gives the report.
  const j = await as(srv.url, viewer, 'GET', `/incidents/${id}/report`, { headers: { Accept: 'application/json' } });
  assert.equal(j.status, 200);
  assert.deepEqual(j.json.sections.map((s) => s.tactic), (await mustReport(id)).json.sections.map((s) => s.tactic));
  // Signed out: not the report.
  const anon = await request(srv.url, 'GET', `/incidents/${id}/report`);
  assert.notEqual(anon.status, 200);
  assert.doesNotMatch(anon.text, /Crypto mining/);
});

test('the report of a merged incident points at the incident it went into', async () => {
  const c = 'rep-merge';
  await mustPost(srv.url, tok, [
    alert('rm-1', { clusterName: c, entities: [pod(c, 'n', 'a')] }),
    alert('rm-2', { clusterName: c, at: T0 + MIN, entities: [pod(c, 'n', 'b')] }),
  ]);
  const where = await placement(srv.url, tok, `cluster=${c}`);
  const [a, b] = [where.get('rm-1'), where.get('rm-2')];
  const m = await request(srv.url, 'POST', `/api/v1/incidents/${a}/merge`, { bearer: tok, body: { incident_ids: [b] } });
  assert.equal(m.status, 200, m.text);
  const r = await report(b);
  assertError(r, 409, 'conflict', new RegExp(`merged into incident ${a}`));
});
