// The incident queue (GET /api/v1/incidents): every filter, the three sorts
// and keyset pagination over them, the per-facet counts (each facet counted
// with every other filter applied but not its own), the validation of every
// query parameter, and the summary fields of the items. One dataset of nine
// incidents is built in before() and only read by the tests, so every count
// below is exact.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir } from './lib/server.mjs';
import { request, addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import {
  HOUR, T0, iso, alert, pod, identity, ip, mustPost, getJson, placement,
} from './lib/incidents.mjs';

const MIN = 60000;

let srv;
let tok;
let alice; // analyst session
const id = {}; // I1..I9 -> incident id

/** The Falco event behind I5 (cluster qa, pod prod/falco-pod). */
const falcoEvent = {
  time: iso(T0 + 5 * HOUR),
  rule: 'Terminal shell in container',
  priority: 'Warning',
  output: 'A shell was spawned in a container (user=root container=app shell=sh)',
  source: 'syscall',
  hostname: 'node-q1',
  tags: ['T1059', 'container', 'mitre_execution'],
  output_fields: {
    'container.id': 'abc123def456',
    'container.name': 'app',
    'container.image.repository': 'nginx',
    'container.image.tag': '1.25',
    'k8s.pod.name': 'falco-pod',
    'k8s.ns.name': 'prod',
    'proc.name': 'sh',
    'proc.cmdline': 'sh -i',
    'user.name': 'root',
  },
};

/** The audit event behind I8: an exec into qa/default/audit-pod. */
const execEvent = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Request',
  auditID: 'queue-exec-1',
  stage: 'ResponseStarted',
  requestURI: '/api/v1/namespaces/default/pods/audit-pod/exec?command=sh&container=c&stdin=true',
  verb: 'create',
  user: { username: 'mallory', groups: ['system:authenticated'] },
  sourceIPs: ['203.0.113.50'],
  objectRef: { resource: 'pods', subresource: 'exec', namespace: 'default', name: 'audit-pod', apiVersion: 'v1' },
  responseStatus: { code: 101 },
  requestReceivedTimestamp: iso(T0 + 8 * HOUR),
  stageTimestamp: iso(T0 + 8 * HOUR),
};

async function patch(incident, body) {
  const r = await request(srv.url, 'PATCH', `/api/v1/incidents/${incident}`, { bearer: tok, body });
  assert.equal(r.status, 200, `PATCH ${incident} ${JSON.stringify(body)}: ${r.text}`);
  return r.json;
}

before(async () => {
  const dir = makeTempDir('stockade-queue-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'alice', role: 'analyst', password: 'alice-password-1' },
    { name: 'bob', role: 'analyst', password: 'bob-password-12' },
  ]);
  tok = await cliToken(db, 'queue-ingest', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });

  const qa = (n) => pod('qa', 'ns', n);
  await mustPost(srv.url, tok, [
    alert('I1', { clusterName: 'qa', at: T0 + HOUR, severity: 'high', title: 'Crypto miner on web', entities: [qa('web-1')] }),
    alert('I2a', { clusterName: 'qa', at: T0 + 2 * HOUR, severity: 'low', title: 'Odd login', entities: [qa('db-1')] }),
    alert('I2b', { clusterName: 'qa', at: T0 + 2 * HOUR + MIN, severity: 'medium', title: 'Odd query', entities: [qa('db-1')] }),
    alert('I2c', { clusterName: 'qa', at: T0 + 2 * HOUR + 2 * MIN, severity: 'low', title: 'Odd dump', entities: [qa('db-1')] }),
    alert('I3', { clusterName: 'qa', at: T0 + 3 * HOUR, severity: 'low', provider: 'stockade-rules', title: 'Cache poke', entities: [qa('cache_1')] }),
    alert('I4', { clusterName: 'qa', at: T0 + 4 * HOUR, severity: 'informational', title: '100% CPU usage', entities: [qa('batch-9')] }),
    alert('I6a', { clusterName: 'qa', at: T0 + 6 * HOUR, severity: 'high', provider: 'stockade-rules', tactic: 'credential_access', title: 'Token theft', entities: [qa('api-7'), identity('qa', 'svc-robot')] }),
    alert('I6b', { clusterName: 'qa', at: T0 + 6 * HOUR + MIN, severity: 'medium', tactic: 'execution', title: 'Shell spawned', entities: [qa('api-7')] }),
    alert('I7', { clusterName: 'qb', at: T0 + 7 * HOUR, severity: 'high', title: 'Miner in qb', entities: [pod('qb', 'ns', 'other')] }),
    alert('I9', { clusterName: 'qb', at: T0 + 9 * HOUR, severity: 'low', title: 'CPU at 1000 percent', entities: [pod('qb', 'ns', 'cacheX1'), ip('198.51.100.9')] }),
  ]);
  const f = await mustPost(srv.url, tok, falcoEvent, '/api/v1/ingest/falco?cluster=qa');
  assert.equal(f.alerts_new, 1, JSON.stringify(f));
  const k = await mustPost(srv.url, tok, execEvent, '/api/v1/ingest/k8s-audit?cluster=qa');
  assert.equal(k.alerts_new, 1, JSON.stringify(k));

  const where = await placement(srv.url, tok);
  for (const n of ['I1', 'I3', 'I4', 'I7', 'I9']) id[n] = where.get(n);
  id.I2 = where.get('I2a');
  id.I6 = where.get('I6a');
  assert.equal(where.get('I2c'), id.I2);
  assert.equal(where.get('I6b'), id.I6);
  const all = (await getJson(srv.url, tok, '/api/v1/incidents?limit=200')).items;
  id.I5 = all.find((i) => i.sources.includes('falco'))?.id;
  id.I8 = all.find((i) => i.sources.includes('k8s-audit'))?.id;
  assert.equal(all.length, 9, JSON.stringify(all.map((i) => i.title)));
  assert.equal(new Set(Object.values(id)).size, 9, JSON.stringify(id));

  await patch(id.I2, { status: 'in_progress', assignee: 'alice' });
  await patch(id.I3, { assignee: 'bob' });
  await patch(id.I4, { status: 'resolved', classification: 'false_positive', determination: 'not_malicious', assignee: 'alice' });
  await patch(id.I6, { classification: 'true_positive', assignee: 'alice' });

  // I1's pod is a critical asset.
  const i1 = await getJson(srv.url, tok, `/api/v1/incidents/${id.I1}`);
  const web = i1.entities.find((e) => e.kind === 'pod');
  const r = await request(srv.url, 'PATCH', `/api/v1/entities/${web.id}`, { bearer: tok, body: { critical: true } });
  assert.equal(r.status, 200, r.text);

  alice = await signIn(srv.url, 'alice', 'alice-password-1');
});

/** GET /api/v1/incidents?query as the token (or `who`); asserts 200. */
async function list(query, who = { bearer: tok }) {
  const r = await as(srv.url, who, 'GET', `/api/v1/incidents?${query}`);
  assert.equal(r.status, 200, `?${query}: ${r.text}`);
  return r.json;
}

/** The names (I1..I9) of the items of ?query, in order. */
async function names(query, who) {
  const byId = new Map(Object.entries(id).map(([k, v]) => [v, k]));
  const page = await list(query, who);
  return page.items.map((i) => byId.get(i.id) ?? `?${i.id}`);
}

const sorted = (a) => [...a].sort();

test('the queue lists every open and resolved incident, newest activity first', async () => {
  assert.deepEqual(await names(''), ['I9', 'I8', 'I7', 'I6', 'I5', 'I4', 'I3', 'I2', 'I1']);
  const page = await list('');
  assert.equal(page.next_cursor, null);
  assert.equal(page.counts_exact, true);
});

test('status filters one value or a comma list; merged is not a queue status', async () => {
  assert.deepEqual(sorted(await names('status=active')), ['I1', 'I3', 'I5', 'I6', 'I7', 'I8', 'I9']);
  assert.deepEqual(await names('status=in_progress'), ['I2']);
  assert.deepEqual(await names('status=resolved'), ['I4']);
  assert.deepEqual(await names('status=in_progress,resolved'), ['I4', 'I2']);
  assert.deepEqual(sorted(await names('status=active,in_progress')),
    ['I1', 'I2', 'I3', 'I5', 'I6', 'I7', 'I8', 'I9']);
  const r = await request(srv.url, 'GET', '/api/v1/incidents?status=merged', { bearer: tok });
  assertError(r, 400, 'invalid_request', /^status:/);
});

test('severity filters one value or a comma list', async () => {
  assert.deepEqual(await names('severity=high'), ['I7', 'I6', 'I1']);
  assert.deepEqual(await names('severity=informational'), ['I4']);
  assert.deepEqual(await names('severity=low,informational'), ['I9', 'I4', 'I3']);
  assert.deepEqual(await names('severity=medium'), ['I8', 'I5', 'I2']);
});

test('source filters by service source: falco, k8s-audit, stockade-rules, api', async () => {
  assert.deepEqual(await names('source=falco'), ['I5']);
  assert.deepEqual(await names('source=k8s-audit'), ['I8']);
  assert.deepEqual(await names('source=stockade-rules'), ['I6', 'I3']);
  assert.deepEqual(await names('source=api'), ['I9', 'I7', 'I6', 'I4', 'I2', 'I1']);
  assert.deepEqual(await names('source=falco,k8s-audit'), ['I8', 'I5']);
});

test('assignee filters by user name, "me" and "unassigned"', async () => {
  assert.deepEqual(await names('assignee=alice'), ['I6', 'I4', 'I2']);
  assert.deepEqual(await names('assignee=bob'), ['I3']);
  assert.deepEqual(await names('assignee=unassigned'), ['I9', 'I8', 'I7', 'I5', 'I1']);
  assert.deepEqual(await names('assignee=nobody'), []);
  // "me" is the signed-in user.
  assert.deepEqual(await names('assignee=me', alice), ['I6', 'I4', 'I2']);
});

test('classification filters by API name, and "none" finds the unclassified', async () => {
  assert.deepEqual(await names('classification=true_positive'), ['I6']);
  assert.deepEqual(await names('classification=false_positive'), ['I4']);
  assert.deepEqual(await names('classification=informational'), []);
  assert.deepEqual(await names('classification=none'), ['I9', 'I8', 'I7', 'I5', 'I3', 'I2', 'I1']);
  assert.deepEqual(await names('classification=true_positive,false_positive'), ['I6', 'I4']);
});

test('cluster filters to incidents involving that cluster', async () => {
  assert.deepEqual(await names('cluster=qb'), ['I9', 'I7']);
  assert.deepEqual(await names('cluster=qa'), ['I8', 'I6', 'I5', 'I4', 'I3', 'I2', 'I1']);
  const none = await list('cluster=no-such-cluster');
  assert.deepEqual(none.items, []);
  assert.equal(none.next_cursor, null);
  assert.equal(none.counts.status.active, 0);
});

test('since/until select incidents whose activity overlaps the range', async () => {
  // since: last activity at or after; until: first activity at or before.
  assert.deepEqual(await names(`since=${iso(T0 + 4 * HOUR)}`), ['I9', 'I8', 'I7', 'I6', 'I5', 'I4']);
  assert.deepEqual(await names(`until=${iso(T0 + 2 * HOUR + MIN)}`), ['I2', 'I1']);
  // I2 runs from 2h to 2h02: it overlaps [2h01, 3h] although it started before.
  assert.deepEqual(await names(`since=${iso(T0 + 2 * HOUR + MIN)}&until=${iso(T0 + 3 * HOUR)}`), ['I3', 'I2']);
  // The same instant as an offset time and as epoch milliseconds.
  assert.deepEqual(await names(`since=${encodeURIComponent('2026-10-01T14:00:00+02:00')}`),
    ['I9', 'I8', 'I7', 'I6', 'I5', 'I4']);
  assert.deepEqual(await names(`since=${T0 + 4 * HOUR}`), ['I9', 'I8', 'I7', 'I6', 'I5', 'I4']);
  assert.deepEqual(await names(`since=${iso(T0 + 100 * HOUR)}`), []);
});

test('q searches titles and entity names, case-insensitively', async () => {
  assert.deepEqual(await names('q=miner'), ['I7', 'I1']);
  assert.deepEqual(await names('q=MINER'), ['I7', 'I1']);
  // svc-robot is an identity of I6, not in its title.
  const i6 = await getJson(srv.url, tok, `/api/v1/incidents/${id.I6}`);
  assert.doesNotMatch(i6.title, /svc-robot/);
  assert.deepEqual(await names('q=svc-robot'), ['I6']);
  assert.deepEqual(await names('q=198.51.100.9'), ['I9']);
  assert.deepEqual(await names('q=falco-pod'), ['I5']);
  assert.deepEqual(await names('q=mallory'), ['I8']);
  assert.deepEqual(await names('q=no-such-text'), []);
});

test('LIKE wildcards in q are literal', async () => {
  // Unescaped, "100%" would also match "CPU at 1000 percent" (I9), "cache_1"
  // would match pod cacheX1 (I9), and "%" or "_" alone would match everything.
  assert.deepEqual(await names(`q=${encodeURIComponent('100%')}`), ['I4']);
  assert.deepEqual(await names('q=cache_1'), ['I3']);
  assert.deepEqual(await names(`q=${encodeURIComponent('%')}`), ['I4']);
  assert.deepEqual(await names('q=_'), ['I3']);
  assert.deepEqual(await names(`q=${encodeURIComponent('\\')}`), []);
});

test('filters combine', async () => {
  assert.deepEqual(await names('status=active&severity=high'), ['I7', 'I6', 'I1']);
  assert.deepEqual(await names('cluster=qa&severity=high'), ['I6', 'I1']);
  assert.deepEqual(await names('assignee=alice&status=resolved'), ['I4']);
  assert.deepEqual(await names('source=api&classification=none&cluster=qb&q=miner'), ['I7']);
});

test('sort=severity orders by severity, then activity', async () => {
  assert.deepEqual(await names('sort=severity'), ['I7', 'I6', 'I1', 'I8', 'I5', 'I2', 'I9', 'I3', 'I4']);
  assert.deepEqual(await names('sort=severity&status=active'), ['I7', 'I6', 'I1', 'I8', 'I5', 'I9', 'I3']);
});

test('sort=alerts orders by alert count, then newest incident', async () => {
  const byCount = await list('sort=alerts');
  const counts = byCount.items.map((i) => i.alert_count);
  assert.deepEqual(counts, [3, 2, 1, 1, 1, 1, 1, 1, 1]);
  const ones = byCount.items.slice(2).map((i) => i.id);
  assert.deepEqual(ones, [...ones].sort((a, b) => b - a));
  assert.deepEqual((await names('sort=alerts')).slice(0, 2), ['I2', 'I6']);
  assert.deepEqual(await names('sort=activity'), await names(''));
});

/** Every page of ?query at `limit` per page; checks each page's size and
 *  that only the last one has no cursor. */
async function walk(query, limit) {
  const out = [];
  let cursor = null;
  for (let pages = 0; pages < 50; pages++) {
    const q = new URLSearchParams(query);
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const page = await list(q.toString());
    out.push(...page.items.map((i) => i.id));
    if (page.next_cursor === null) {
      assert.ok(page.items.length <= limit);
      return out;
    }
    assert.equal(page.items.length, limit, `a page with a cursor is full (${query})`);
    assert.equal(typeof page.next_cursor, 'string');
    cursor = page.next_cursor;
  }
  throw new Error(`pagination of ${query} did not end`);
}

test('keyset pagination walks every sort without duplicates or gaps', async () => {
  for (const query of ['', 'sort=activity', 'sort=severity', 'sort=alerts', 'status=active',
    'status=active&sort=severity', 'status=active,resolved&sort=alerts', 'cluster=qa&sort=severity',
    'severity=high,low&sort=alerts']) {
    const whole = (await list(`${query}&limit=200`)).items.map((i) => i.id);
    assert.ok(whole.length > 2, query);
    for (const limit of [1, 2, 4]) {
      const paged = await walk(query, limit);
      assert.equal(new Set(paged).size, paged.length, `duplicates in ${query} limit ${limit}: ${paged}`);
      assert.deepEqual(paged, whole, `${query} limit ${limit}`);
    }
  }
});

test('a page that ends the list has next_cursor null; an exact fit does too', async () => {
  const nine = await list('limit=9');
  assert.equal(nine.items.length, 9);
  assert.equal(nine.next_cursor, null);
  const eight = await list('limit=8');
  assert.equal(eight.items.length, 8);
  assert.equal(typeof eight.next_cursor, 'string');
  const last = await list(`limit=8&cursor=${encodeURIComponent(eight.next_cursor)}`);
  assert.deepEqual(last.items.map((i) => i.id), [id.I1]);
  assert.equal(last.next_cursor, null);
});

test('a cursor the server did not issue is refused', async () => {
  for (const c of ['garbage', '1.2', '1.2.3.4', '1.2.3x', 'a.b.c', '..', '1..3']) {
    const r = await request(srv.url, 'GET', `/api/v1/incidents?cursor=${encodeURIComponent(c)}`, { bearer: tok });
    assertError(r, 400, 'invalid_request', /^cursor:/, `cursor ${c}`);
  }
});

test('limit is 1 to 200', async () => {
  assert.equal((await list('limit=1')).items.length, 1);
  assert.equal((await list('limit=200')).items.length, 9);
  for (const bad of ['0', '201', '-1', 'abc', '1e2', '10000000000000000000000', '']) {
    const r = await request(srv.url, 'GET', `/api/v1/incidents?limit=${bad}`, { bearer: tok });
    assertError(r, 400, 'invalid_request', /^limit:/, `limit=${bad}`);
  }
});

test('bad parameter values get 400 with a message naming the parameter', async () => {
  const cases = [
    ['status=open', 'status'],
    ['status=active,bogus', 'status'],
    ['severity=critical', 'severity'],
    ['severity=High', 'severity'],
    ['source=syslog', 'source'],
    ['classification=maybe', 'classification'],
    ['classification=True%20positive', 'classification'],
    ['sort=name', 'sort'],
    ['sort=', 'sort'],
    ['since=yesterday', 'since'],
    ['since=2026-10-01', 'since'],
    ['until=2026-13-01T00:00:00Z', 'until'],
    ['until=2026-10-01T00:00:00', 'until'],
    [`q=${'x'.repeat(201)}`, 'q'],
    [`q=${'x'.repeat(400)}`, 'q'],
    [`assignee=${'a'.repeat(300)}`, 'assignee'],
    [`cluster=${'c'.repeat(300)}`, 'cluster'],
  ];
  for (const [query, param] of cases) {
    const r = await request(srv.url, 'GET', `/api/v1/incidents?${query}`, { bearer: tok });
    assertError(r, 400, 'invalid_request', new RegExp(`^${param}:`), query.slice(0, 60));
  }
  // The longest accepted q.
  assert.deepEqual((await list(`q=${'x'.repeat(200)}`)).items, []);
});

test('counts: each facet with the other filters applied but not its own', async () => {
  const all = await list('');
  assert.equal(all.counts_exact, true);
  assert.deepEqual(all.counts.status, { active: 7, in_progress: 1, resolved: 1 });
  assert.deepEqual(all.counts.severity, { informational: 1, low: 2, medium: 3, high: 3 });
  assert.deepEqual(all.counts.source, { falco: 1, 'k8s-audit': 1, 'stockade-rules': 2, api: 6 });
  assert.deepEqual(all.counts.classification, { none: 7, true_positive: 1, informational: 0, false_positive: 1 });
  assert.deepEqual(all.counts.assignee, { '': 5, alice: 3, bob: 1 });

  const hi = await list('status=active&severity=high');
  assert.equal(hi.counts_exact, true);
  assert.deepEqual(hi.counts.status, { active: 3, in_progress: 0, resolved: 0 });
  assert.deepEqual(hi.counts.severity, { informational: 0, low: 2, medium: 2, high: 3 });
  assert.deepEqual(hi.counts.source, { falco: 0, 'k8s-audit': 0, 'stockade-rules': 1, api: 3 });
  assert.deepEqual(hi.counts.classification, { none: 2, true_positive: 1, informational: 0, false_positive: 0 });
  assert.deepEqual(hi.counts.assignee, { '': 2, alice: 1 });

  const mine = await list('assignee=alice');
  assert.deepEqual(mine.counts.assignee, { '': 5, alice: 3, bob: 1 });
  assert.deepEqual(mine.counts.status, { active: 1, in_progress: 1, resolved: 1 });
  assert.deepEqual(mine.counts.classification, { none: 1, true_positive: 1, informational: 0, false_positive: 1 });

  const falco = await list('source=falco');
  assert.deepEqual(falco.counts.source, { falco: 1, 'k8s-audit': 1, 'stockade-rules': 2, api: 6 });
  assert.deepEqual(falco.counts.status, { active: 1, in_progress: 0, resolved: 0 });
  assert.deepEqual(falco.counts.severity, { informational: 0, low: 0, medium: 1, high: 0 });

  const unclassified = await list('classification=none&status=active,in_progress');
  assert.deepEqual(unclassified.counts.classification, { none: 7, true_positive: 1, informational: 0, false_positive: 0 });
  assert.deepEqual(unclassified.counts.status, { active: 6, in_progress: 1, resolved: 0 });
  assert.deepEqual(unclassified.counts.assignee, { '': 5, alice: 1, bob: 1 });
});

test('counts under cluster, time and text filters count only the matching incidents', async () => {
  const qa = await list('cluster=qa&severity=high');
  assert.equal(qa.counts_exact, true);
  assert.deepEqual(qa.counts.severity, { informational: 1, low: 1, medium: 3, high: 2 });
  assert.deepEqual(qa.counts.status, { active: 2, in_progress: 0, resolved: 0 });
  assert.deepEqual(qa.counts.source, { falco: 0, 'k8s-audit': 0, 'stockade-rules': 1, api: 2 });
  assert.deepEqual(qa.counts.assignee, { '': 1, alice: 1 });

  const late = await list(`since=${iso(T0 + 4 * HOUR)}&status=active`);
  assert.equal(late.counts_exact, true);
  assert.deepEqual(late.counts.status, { active: 5, in_progress: 0, resolved: 1 });
  assert.deepEqual(late.counts.severity, { informational: 0, low: 1, medium: 2, high: 2 });

  const text = await list('q=miner');
  assert.equal(text.counts_exact, true);
  assert.deepEqual(text.counts.severity, { informational: 0, low: 0, medium: 0, high: 2 });
  assert.deepEqual(text.counts.status, { active: 2, in_progress: 0, resolved: 0 });
});

test('items carry entity count, tactics, sources, clusters and high impact', async () => {
  const items = new Map((await list('limit=200')).items.map((i) => [i.id, i]));
  const i6 = items.get(id.I6);
  assert.equal(i6.alert_count, 2);
  assert.equal(i6.entity_count, 3); // cluster, pod, identity
  assert.deepEqual(i6.tactics, ['execution', 'credential_access']);
  assert.deepEqual(i6.sources, ['stockade-rules', 'api']);
  assert.deepEqual(i6.clusters, ['qa']);
  assert.equal(i6.severity, 'high');
  assert.equal(i6.status, 'active');
  assert.equal(i6.assignee, 'alice');
  assert.equal(i6.classification, 'true_positive');
  assert.equal(i6.high_impact, false);

  const i1 = items.get(id.I1);
  assert.equal(i1.high_impact, true);
  assert.equal(i1.entity_count, 2);
  assert.deepEqual(i1.tactics, []);
  assert.deepEqual(i1.sources, ['api']);
  assert.equal(i1.title, 'Crypto miner on web on pod web-1 in qa');

  const i2 = items.get(id.I2);
  assert.equal(i2.alert_count, 3);
  assert.equal(i2.severity, 'medium');
  assert.equal(i2.first_activity, iso(T0 + 2 * HOUR));
  assert.equal(i2.last_activity, iso(T0 + 2 * HOUR + 2 * MIN));

  const i4 = items.get(id.I4);
  assert.equal(i4.status, 'resolved');
  assert.equal(i4.classification, 'false_positive');
  assert.equal(i4.determination, 'not_malicious');

  const i5 = items.get(id.I5);
  assert.deepEqual(i5.sources, ['falco']);
  assert.deepEqual(i5.tactics, ['execution']);
  assert.equal(i5.severity, 'medium');
  assert.deepEqual(i5.clusters, ['qa']);
  // cluster, namespace, node, pod, container, image, registry
  assert.equal(i5.entity_count, 7);

  const i8 = items.get(id.I8);
  assert.deepEqual(i8.sources, ['k8s-audit']);
  assert.deepEqual(i8.tactics, ['execution']);
  // cluster, namespace, identity, pod, ip
  assert.equal(i8.entity_count, 5);

  for (const i of items.values()) {
    for (const k of ['id', 'title', 'severity', 'status', 'alert_count', 'entity_count', 'tactics',
      'sources', 'high_impact', 'assignee', 'classification', 'tags', 'clusters',
      'first_activity', 'last_activity', 'created_at', 'updated_at']) {
      assert.ok(k in i, `item ${i.id} lacks ${k}`);
    }
  }
});

test('the queue needs Alerts: Read', async () => {
  const r = await request(srv.url, 'GET', '/api/v1/incidents');
  assertError(r, 401, 'unauthorized');
});

// Last: it adds incidents that the counts above do not expect.
test('without limit a page holds 50 incidents', async () => {
  await mustPost(srv.url, tok, Array.from({ length: 51 }, (_, n) => alert(`Z${n}`, {
    clusterName: 'qz', at: T0 + 20 * HOUR + n * MIN, entities: [pod('qz', 'ns', `z${n}`)],
  })));
  const first = await list('cluster=qz');
  assert.equal(first.items.length, 50);
  assert.equal(typeof first.next_cursor, 'string');
  const rest = await list(`cluster=qz&cursor=${encodeURIComponent(first.next_cursor)}`);
  assert.equal(rest.items.length, 1);
  assert.equal(rest.next_cursor, null);
  assert.equal(rest.items[0].title, 'Alert Z0 on pod z0 in qz');
});
