// Triage (PATCH /api/v1/incidents/{id}, comments): status, assignment,
// classification and determination (SPEC section 4), tags, the rule that
// resolving needs a classification, strict bodies, permissions, the history
// and audit trail of every change, and what resolving does to correlation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, sqlite, runCli } from './lib/server.mjs';
import { request, addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { HOUR, T0, alert, pod, mustPost, getJson, placement } from './lib/incidents.mjs';

let srv;
let tok; // alerts:read + alerts:manage
let readTok; // alerts:read only
let ana; // analyst session
let vic; // viewer session
let seq = 0;

before(async () => {
  const dir = makeTempDir('stockade-triage-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'boss', role: 'admin', password: 'boss-password-123' },
    { name: 'ana', role: 'analyst', password: 'ana-password-1234' },
    { name: 'resp', role: 'responder', password: 'resp-password-123' },
    { name: 'vic', role: 'viewer', password: 'vic-password-1234' },
    { name: 'gone', role: 'analyst', password: 'gone-password-123' },
    { name: 'temp', role: 'analyst', password: 'temp-password-123' },
  ]);
  const r = await runCli(['user', 'disable', 'gone', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  tok = await cliToken(db, 'triage-manage', ['alerts:read', 'alerts:manage']);
  readTok = await cliToken(db, 'triage-read', ['alerts:read']);
  srv = await startServer({ dir });
  ana = await signIn(srv.url, 'ana', 'ana-password-1234');
  vic = await signIn(srv.url, 'vic', 'vic-password-1234');
});

const sq = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`);
const sqj = (sql) => sqlite(srv.dbPath, `.timeout 5000\n${sql}`, { json: true });

/** A new single-alert incident in its own cluster; resolves with its id. */
async function newIncident(opts = {}) {
  const n = ++seq;
  const c = opts.cluster ?? `tri${n}`;
  const ext = `tri-${n}`;
  await mustPost(srv.url, tok, alert(ext, { clusterName: c, at: opts.at ?? T0 + n * 60000, entities: [pod(c, 'ns', opts.pod ?? `p${n}`)] }));
  const where = await placement(srv.url, tok, `cluster=${c}`);
  assert.ok(where.get(ext), `incident of ${ext}`);
  return where.get(ext);
}

const patch = (id, body, who = { bearer: tok }) => as(srv.url, who, 'PATCH', `/api/v1/incidents/${id}`, { body });

async function mustPatch(id, body, who) {
  const r = await patch(id, body, who);
  assert.equal(r.status, 200, `PATCH ${JSON.stringify(body)}: ${r.text}`);
  return r.json;
}

const incident = (id) => getJson(srv.url, tok, `/api/v1/incidents/${id}`);

/** audit_log rows about incident `id` with `action`, oldest first. */
function auditRows(id, action) {
  return sqj(`SELECT actor, actor_kind, action, target, outcome, details FROM audit_log
    WHERE target = 'incident:${id}' AND action = '${action}' ORDER BY id;`)
    .map((r) => ({ ...r, details: JSON.parse(r.details) }));
}

test('status moves between active, in_progress and back, with history and audit', async () => {
  const id = await newIncident();
  let inc = await mustPatch(id, { status: 'in_progress' });
  assert.equal(inc.status, 'in_progress');
  assert.equal(inc.id, id);
  inc = await mustPatch(id, { status: 'active' });
  assert.equal(inc.status, 'active');
  const full = await incident(id);
  assert.equal(full.status, 'active');
  const hist = full.history.filter((h) => h.kind === 'status');
  assert.deepEqual(hist.map((h) => h.summary).sort(), [
    'Status changed from active to in_progress', 'Status changed from in_progress to active',
  ].sort());
  for (const h of hist) {
    assert.equal(h.actor, 'token:triage-manage');
    assert.match(h.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const rows = auditRows(id, 'incident.update');
  assert.equal(rows.length, 2);
  assert.deepEqual(rows.map((r) => r.details.status), ['in_progress', 'active']);
  assert.equal(rows[0].actor, 'token:triage-manage');
  assert.equal(rows[0].actor_kind, 'token');
  assert.equal(rows[0].outcome, 'success');
});

test('a PATCH that changes nothing writes no history and no audit entry', async () => {
  const id = await newIncident();
  const before = (await incident(id)).history.length;
  const inc = await mustPatch(id, { status: 'active', tags: [] });
  assert.equal(inc.status, 'active');
  assert.equal((await incident(id)).history.length, before);
  assert.equal(auditRows(id, 'incident.update').length, 0);
});

test('assign to an enabled user with Alerts: Manage; others are refused', async () => {
  const id = await newIncident();
  // The UI's "assign to me" sends the signed-in user's name.
  let inc = await mustPatch(id, { assignee: 'ana' }, ana);
  assert.equal(inc.assignee, 'ana');
  inc = await mustPatch(id, { assignee: 'resp' });
  assert.equal(inc.assignee, 'resp');
  inc = await mustPatch(id, { assignee: 'boss' });
  assert.equal(inc.assignee, 'boss');
  for (const who of ['vic', 'gone', 'nobody', 'token:triage-manage']) {
    const r = await patch(id, { assignee: who });
    assertError(r, 400, 'invalid_request', /cannot assign/, `assign to ${who}`);
    assert.match(r.json.error.message, new RegExp(`"${who}"`));
  }
  for (const bad of [42, true, ['ana'], { name: 'ana' }, 'a'.repeat(64)]) {
    const r = await patch(id, { assignee: bad });
    assertError(r, 400, 'invalid_request', /^assignee:/, `assignee ${JSON.stringify(bad).slice(0, 20)}`);
  }
  assert.equal((await incident(id)).assignee, 'boss');
  inc = await mustPatch(id, { assignee: '' });
  assert.equal(inc.assignee, '');
  const summaries = (await incident(id)).history.filter((h) => h.kind === 'assignee').map((h) => h.summary);
  assert.deepEqual(summaries, ['Unassigned (was boss)', 'Assigned to boss', 'Assigned to resp', 'Assigned to ana']);
  const hist = (await incident(id)).history.find((h) => h.summary === 'Assigned to ana');
  assert.equal(hist.actor, 'ana');
  const rows = auditRows(id, 'incident.update');
  assert.deepEqual(rows.map((r) => r.details.assignee), ['ana', 'resp', 'boss', '']);
  assert.equal(rows[0].actor, 'ana');
  assert.equal(rows[0].actor_kind, 'user');
});

test('an assignee named in another case is stored as the user is named', async () => {
  // User names are case-insensitive (COLLATE NOCASE), so "ANA" is user ana;
  // the incident must then be ana's in the queue's assignee filter and counts.
  const id = await newIncident({ cluster: 'case' });
  const r = await patch(id, { assignee: 'ANA' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.assignee, 'ana');
  const mine = await as(srv.url, ana, 'GET', '/api/v1/incidents?cluster=case&assignee=me');
  assert.deepEqual(mine.json.items.map((i) => i.id), [id]);
  assert.deepEqual(mine.json.counts.assignee, { ana: 1 });
});

/** SPEC section 4 with the API's names. */
const SPEC_CLASSES = [
  ['true_positive', 'True positive', [
    ['multi_stage_attack', 'Multi-stage attack'], ['malicious_user_activity', 'Malicious user activity'],
    ['malware', 'Malware'], ['phishing', 'Phishing'], ['unwanted_software', 'Unwanted software'], ['other', 'Other'],
  ]],
  ['informational', 'Informational, expected activity', [
    ['security_testing', 'Security testing'], ['line_of_business_application', 'Line-of-business application'],
    ['confirmed_activity', 'Confirmed activity'], ['other', 'Other'],
  ]],
  ['false_positive', 'False positive', [
    ['not_malicious', 'Not malicious'], ['not_enough_data', 'Not enough data to validate'], ['other', 'Other'],
  ]],
];

test('GET /api/v1/classifications lists SPEC section 4 with names and labels', async () => {
  for (const who of [{ bearer: readTok }, vic]) {
    const r = await as(srv.url, who, 'GET', '/api/v1/classifications');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {
      items: SPEC_CLASSES.map(([name, label, dets]) => ({
        name, label, determinations: dets.map(([n, l]) => ({ name: n, label: l })),
      })),
    });
  }
});

test('GET /api/v1/assignees lists enabled users with Alerts: Manage', async () => {
  const r = await as(srv.url, vic, 'GET', '/api/v1/assignees');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    items: [
      { username: 'ana', role: 'analyst' },
      { username: 'boss', role: 'admin' },
      { username: 'resp', role: 'responder' },
      { username: 'temp', role: 'analyst' },
    ],
  });
  assert.doesNotMatch(r.text, /password|hash/i);
});

test('every classification/determination pair of SPEC section 4 is accepted', async () => {
  const id = await newIncident();
  let expected = 0;
  for (const [cls, label, dets] of SPEC_CLASSES) {
    for (const [det, detLabel] of dets) {
      const inc = await mustPatch(id, { classification: cls, determination: det });
      assert.equal(inc.classification, cls);
      assert.equal(inc.determination, det);
      expected++;
      const h = (await incident(id)).history[0];
      assert.equal(h.kind, 'classification');
      assert.equal(h.summary, `Classified as ${label} / ${detLabel}`);
    }
  }
  const rows = auditRows(id, 'incident.update');
  assert.equal(rows.length, expected);
  assert.deepEqual(rows[0].details, { classification: 'true_positive', determination: 'multi_stage_attack' });
});

test('a classification alone, then its determination, reads back as one verdict', async () => {
  const id = await newIncident();
  let inc = await mustPatch(id, { classification: 'true_positive' });
  assert.equal(inc.classification, 'true_positive');
  assert.equal(inc.determination, '');
  assert.equal((await incident(id)).history[0].summary, 'Classified as True positive');
  inc = await mustPatch(id, { determination: 'multi_stage_attack' });
  assert.equal(inc.classification, 'true_positive');
  assert.equal(inc.determination, 'multi_stage_attack');
  const full = await incident(id);
  assert.equal(full.classification, 'true_positive');
  assert.equal(full.determination, 'multi_stage_attack');
  assert.equal(full.history[0].summary, 'Classified as True positive / Multi-stage attack');
  // Re-sending the same classification keeps the determination.
  inc = await mustPatch(id, { classification: 'true_positive' });
  assert.equal(inc.determination, 'multi_stage_attack');
});

test('a determination of another classification is refused', async () => {
  const id = await newIncident();
  for (const [cls, det] of [['false_positive', 'malware'], ['true_positive', 'security_testing'],
    ['informational', 'not_malicious'], ['true_positive', 'Malware'], ['true_positive', 'bogus']]) {
    const r = await patch(id, { classification: cls, determination: det });
    assertError(r, 400, 'invalid_request', /determination/, `${cls}/${det}`);
    assert.match(r.json.error.message, new RegExp(det));
  }
  // No classification yet: no determination fits.
  const r = await patch(id, { determination: 'malware' });
  assertError(r, 400, 'invalid_request', /determination/);
  await mustPatch(id, { classification: 'true_positive', determination: 'malware' });
  const r2 = await patch(id, { determination: 'not_malicious' });
  assertError(r2, 400, 'invalid_request', /does not fit/);
  const inc = await incident(id);
  assert.equal(inc.classification, 'true_positive');
  assert.equal(inc.determination, 'malware');
});

test('changing the classification clears a stale determination', async () => {
  const id = await newIncident();
  await mustPatch(id, { classification: 'true_positive', determination: 'malware' });
  let inc = await mustPatch(id, { classification: 'false_positive' });
  assert.equal(inc.classification, 'false_positive');
  assert.equal(inc.determination, '');
  const full = await incident(id);
  assert.equal(full.determination, '');
  assert.equal(full.history[0].summary, 'Classified as False positive');
  // Clearing the classification clears both.
  await mustPatch(id, { classification: 'informational', determination: 'security_testing' });
  inc = await mustPatch(id, { classification: '' });
  assert.equal(inc.classification, '');
  assert.equal(inc.determination, '');
  assert.equal((await incident(id)).history[0].summary, 'Classification cleared');
  await mustPatch(id, { classification: 'false_positive', determination: 'other' });
  inc = await mustPatch(id, { classification: null });
  assert.equal(inc.classification, '');
  assert.equal(inc.determination, '');
  for (const bad of ['True positive', 'none_of_these', 42, ['true_positive']]) {
    const r = await patch(id, { classification: bad });
    assertError(r, 400, 'invalid_request', /^classification:/, JSON.stringify(bad));
  }
});

test('tags: up to 20 strings of 1 to 40 characters', async () => {
  const id = await newIncident();
  const twenty = Array.from({ length: 20 }, (_, i) => `tag-${i}`);
  let inc = await mustPatch(id, { tags: twenty });
  assert.deepEqual(inc.tags, twenty);
  const forty = 'x'.repeat(40);
  inc = await mustPatch(id, { tags: ['crypto', forty, 'pci'] });
  assert.deepEqual(inc.tags, ['crypto', forty, 'pci']);
  const full = await incident(id);
  assert.deepEqual(full.tags, ['crypto', forty, 'pci']);
  const h = full.history[0];
  assert.equal(h.kind, 'tags');
  assert.match(h.summary, /^Tags set to/);
  assert.match(h.summary, /crypto/);
  const bad = [
    [...twenty, 'one-more'],
    [''],
    ['x'.repeat(41)],
    [42],
    [null],
    [['nested']],
    'crypto',
    { tag: 'x' },
    42,
  ];
  for (const tags of bad) {
    const r = await patch(id, { tags });
    assertError(r, 400, 'invalid_request', /^tags:/, JSON.stringify(tags).slice(0, 40));
  }
  assert.deepEqual((await incident(id)).tags, ['crypto', forty, 'pci']);
  inc = await mustPatch(id, { tags: [] });
  assert.deepEqual(inc.tags, []);
  const rows = auditRows(id, 'incident.update');
  assert.deepEqual(rows.map((r) => r.details.tags), [twenty, ['crypto', forty, 'pci'], []]);
});

test('a tag of 40 non-ASCII characters is 40 characters', async () => {
  const id = await newIncident();
  const inc = await mustPatch(id, { tags: ['é'.repeat(40), '事件'] });
  assert.deepEqual(inc.tags, ['é'.repeat(40), '事件']);
});

test('resolving needs a classification; with one it works', async () => {
  const id = await newIncident();
  let r = await patch(id, { status: 'resolved' });
  assertError(r, 400, 'invalid_request', /classification/);
  assert.match(r.json.error.message, /resolv/i);
  assert.equal((await incident(id)).status, 'active');
  let inc = await mustPatch(id, { status: 'resolved', classification: 'true_positive', determination: 'multi_stage_attack' });
  assert.equal(inc.status, 'resolved');
  assert.equal(inc.classification, 'true_positive');
  const full = await incident(id);
  assert.equal(full.status, 'resolved');
  const kinds = full.history.map((h) => h.kind);
  assert.ok(kinds.includes('status') && kinds.includes('classification'), kinds.join());
  assert.ok(full.history.some((h) => h.summary === 'Classified as True positive / Multi-stage attack'));
  assert.ok(full.history.some((h) => h.summary === 'Status changed from active to resolved'));
  // Clearing the classification of a resolved incident is the same mistake.
  r = await patch(id, { classification: '' });
  assertError(r, 400, 'invalid_request', /classification/);
  // A classified incident resolves on its own.
  const id2 = await newIncident();
  await mustPatch(id2, { classification: 'false_positive', determination: 'not_enough_data' });
  inc = await mustPatch(id2, { status: 'resolved' });
  assert.equal(inc.status, 'resolved');
  assert.equal(inc.determination, 'not_enough_data');
});

test('a refused PATCH changes nothing, even the fields that were valid', async () => {
  const id = await newIncident();
  const before = await incident(id);
  for (const body of [
    { status: 'in_progress', assignee: 'vic' },
    { tags: ['ok'], classification: 'false_positive', determination: 'malware' },
    { assignee: 'ana', status: 'resolved' },
  ]) {
    const r = await patch(id, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
  }
  const after = await incident(id);
  for (const k of ['status', 'assignee', 'classification', 'determination', 'tags', 'updated_at']) {
    assert.deepEqual(after[k], before[k], k);
  }
  assert.equal(after.history.length, before.history.length);
  assert.equal(auditRows(id, 'incident.update').length, 0);
});

test('PATCH bodies are strict', async () => {
  const id = await newIncident();
  const cases = [
    [{ status: 'active', severity: 'high' }, 'invalid_request'],
    [{ title: 'renamed' }, 'invalid_request'],
    [{}, 'invalid_request'],
    [[], 'invalid_request'],
    ['"active"', 'malformed_json'],
    [{ status: 'merged' }, 'invalid_request'],
    [{ status: 'closed' }, 'invalid_request'],
    [{ status: 2 }, 'invalid_request'],
    [{ status: null }, 'invalid_request'],
    [{ determination: 42 }, 'invalid_request'],
    ['{"status":"active","status":"resolved"}', 'malformed_json'],
    ['{"status":', 'malformed_json'],
    ['', 'malformed_json'],
  ];
  for (const [body, code] of cases) {
    const r = await patch(id, body);
    assertError(r, 400, code, undefined, JSON.stringify(body));
  }
  const r = await patch(id, { status: 'active', severity: 'high' });
  assert.match(r.json.error.message, /status, assignee, classification, determination, tags/);
  assert.equal((await incident(id)).status, 'active');
});

test('comments: stored with author and time, in history and in the audit log', async () => {
  const id = await newIncident();
  let r = await as(srv.url, ana, 'POST', `/api/v1/incidents/${id}/comments`, { body: { text: 'Looks like a miner.\nChecking the pod.' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.author, 'ana');
  assert.equal(r.json.text, 'Looks like a miner.\nChecking the pod.');
  assert.equal(typeof r.json.id, 'number');
  assert.match(r.json.time, /^\d{4}-\d\d-\d\dT/);
  const long = 'y'.repeat(10000);
  r = await as(srv.url, { bearer: tok }, 'POST', `/api/v1/incidents/${id}/comments`, { body: { text: long } });
  assert.equal(r.status, 201, r.text);
  const full = await incident(id);
  assert.deepEqual(full.comments.map((c) => [c.author, c.text]),
    [['ana', 'Looks like a miner.\nChecking the pod.'], ['token:triage-manage', long]]);
  const hist = full.history.filter((h) => h.kind === 'comment');
  assert.equal(hist.length, 2);
  assert.ok(hist.some((h) => h.summary.startsWith('Comment: Looks like a miner.')), JSON.stringify(hist));
  assert.ok(hist.every((h) => h.summary.length < 200), 'a long comment is shortened in the history');
  const rows = auditRows(id, 'incident.comment');
  assert.equal(rows.length, 2);
  assert.equal(rows[0].actor, 'ana');
  assert.equal(rows[0].details.text, 'Looks like a miner.\nChecking the pod.');
  assert.equal(rows[0].details.comment_id, full.comments[0].id);
});

test('empty, oversized and malformed comments are refused', async () => {
  const id = await newIncident();
  const bad = [{ text: '' }, { text: 'z'.repeat(10001) }, {}, { text: 42 }, { text: null },
    { text: 'ok', extra: 1 }, { comment: 'ok' }, ['ok']];
  for (const body of bad) {
    const r = await request(srv.url, 'POST', `/api/v1/incidents/${id}/comments`, { bearer: tok, body });
    assertError(r, 400, 'invalid_request', /text/, JSON.stringify(body).slice(0, 40));
  }
  const r = await request(srv.url, 'POST', `/api/v1/incidents/${id}/comments`, { bearer: tok, body: '{"text":' });
  assertError(r, 400, 'malformed_json');
  assert.deepEqual((await incident(id)).comments, []);
  assert.equal(auditRows(id, 'incident.comment').length, 0);
});

test('changing an incident requires Alerts: Manage', async () => {
  const id = await newIncident();
  const other = await newIncident();
  const attempts = [
    ['PATCH', `/api/v1/incidents/${id}`, { status: 'in_progress' }],
    ['POST', `/api/v1/incidents/${id}/comments`, { text: 'hi' }],
    ['POST', `/api/v1/incidents/${id}/merge`, { incident_ids: [other] }],
    ['POST', `/api/v1/incidents/${id}/split`, { alert_ids: [1] }],
  ];
  for (const who of [vic, { bearer: readTok }]) {
    for (const [method, path, body] of attempts) {
      const r = await as(srv.url, who, method, path, { body });
      assertError(r, 403, 'forbidden', 'Requires Alerts: Manage', `${method} ${path} as ${who.name ?? 'read token'}`);
    }
    // Reading is fine.
    const r = await as(srv.url, who, 'GET', `/api/v1/incidents/${id}`);
    assert.equal(r.status, 200, r.text);
  }
  const inc = await incident(id);
  assert.equal(inc.status, 'active');
  assert.deepEqual(inc.comments, []);
  assert.equal((await incident(other)).status, 'active');
});

test('unknown incidents are 404', async () => {
  for (const bad of ['999999', '0', 'abc', '-1', '1.5', '99999999999999999999']) {
    for (const [method, path, body] of [
      ['GET', `/api/v1/incidents/${bad}`],
      ['PATCH', `/api/v1/incidents/${bad}`, { status: 'active' }],
      ['POST', `/api/v1/incidents/${bad}/comments`, { text: 'hi' }],
    ]) {
      const r = await request(srv.url, method, path, { bearer: tok, body });
      assertError(r, 404, 'not_found', undefined, `${method} ${path}`);
    }
  }
});

test('a merged incident cannot be triaged: 409', async () => {
  const a = await newIncident();
  const b = await newIncident();
  const r = await request(srv.url, 'POST', `/api/v1/incidents/${a}/merge`, { bearer: tok, body: { incident_ids: [b] } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await incident(b)).status, 'merged');
  for (const body of [{ status: 'active' }, { assignee: 'ana' }, { classification: 'false_positive' }, { tags: ['x'] }]) {
    const p = await patch(b, body);
    assertError(p, 409, 'conflict', new RegExp(`merged into incident ${a}`), JSON.stringify(body));
  }
  const gone = await incident(b);
  assert.equal(gone.status, 'merged');
  assert.equal(gone.assignee, '');
  assert.deepEqual(gone.tags, []);
});

test('commenting on a merged incident is refused like other changes', async () => {
  const a = await newIncident();
  const b = await newIncident();
  const m = await request(srv.url, 'POST', `/api/v1/incidents/${a}/merge`, { bearer: tok, body: { incident_ids: [b] } });
  assert.equal(m.status, 200, m.text);
  const r = await request(srv.url, 'POST', `/api/v1/incidents/${b}/comments`, { bearer: tok, body: { text: 'late note' } });
  assertError(r, 409, 'conflict', new RegExp(`merged into incident ${a}`));
});

test('a resolved incident stops correlating; reopening it is safe', async () => {
  const c = 'reso';
  const p = pod(c, 'shop', 'web-0');
  await mustPost(srv.url, tok, alert('res-1', { clusterName: c, at: T0, entities: [p] }));
  let where = await placement(srv.url, tok, `cluster=${c}`);
  const first = where.get('res-1');
  await mustPatch(first, { status: 'resolved', classification: 'true_positive', determination: 'malware' });
  // Within the 24 h window of res-1, on the same pod: a new incident.
  const res = await mustPost(srv.url, tok, alert('res-2', { clusterName: c, at: T0 + HOUR, entities: [p] }));
  assert.equal(res.incidents_created, 1);
  where = await placement(srv.url, tok, `cluster=${c}`);
  const second = where.get('res-2');
  assert.notEqual(second, first);
  assert.equal((await incident(first)).alert_count, 1);
  assert.equal((await incident(first)).status, 'resolved');
  // Reopen, then correlate again.
  const inc = await mustPatch(first, { status: 'active' });
  assert.equal(inc.status, 'active');
  assert.equal(inc.classification, 'true_positive');
  const again = await mustPost(srv.url, tok, alert('res-3', { clusterName: c, at: T0 + 2 * HOUR, entities: [p] }));
  assert.equal(again.alerts_new, 1);
  where = await placement(srv.url, tok, `cluster=${c}`);
  const third = where.get('res-3');
  assert.ok(third === first || third === second, `res-3 went to ${third}`);
  // An alert between res-1 and res-2 links both incidents: they merge, the
  // older surviving.
  const link = await mustPost(srv.url, tok, alert('res-4', { clusterName: c, at: T0 + HOUR / 2, entities: [p] }));
  assert.equal(link.incidents_merged, 1);
  where = await placement(srv.url, tok, `cluster=${c}`);
  for (const e of ['res-1', 'res-2', 'res-3', 'res-4']) assert.equal(where.get(e), first, e);
  assert.equal((await incident(second)).status, 'merged');
  assert.equal((await incident(first)).alert_count, 4);
  // The queue is still consistent with the incidents.
  const q = await getJson(srv.url, tok, `/api/v1/incidents?cluster=${c}`);
  assert.deepEqual(q.items.map((i) => [i.id, i.alert_count]), [[first, 4]]);
  const h = await request(srv.url, 'GET', '/healthz');
  assert.equal(h.status, 200);
});

test('a resolved incident reopened to in_progress keeps its verdict and history', async () => {
  const id = await newIncident();
  await mustPatch(id, { status: 'resolved', classification: 'informational', determination: 'confirmed_activity' });
  const inc = await mustPatch(id, { status: 'in_progress', assignee: 'ana', tags: ['reopened'] });
  assert.equal(inc.status, 'in_progress');
  assert.equal(inc.determination, 'confirmed_activity');
  const kinds = (await incident(id)).history.map((h) => h.kind);
  for (const k of ['status', 'assignee', 'classification', 'tags']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  const details = auditRows(id, 'incident.update').map((r) => r.details);
  assert.deepEqual(details.at(-1), { status: 'in_progress', assignee: 'ana', tags: ['reopened'] });
});

test('every state change is in the audit chain', async () => {
  const n = Number(sq(`SELECT count(*) FROM audit_log WHERE action IN ('incident.update', 'incident.comment');`));
  assert.ok(n >= 30, `only ${n} incident audit entries`);
  const r = await runCli(['audit', 'verify', '--db', srv.dbPath]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

// Last: it takes Alerts: Manage away from temp.
test('an assignee who lost Alerts: Manage stays assigned until changed, and can be unassigned', async () => {
  const id = await newIncident();
  await mustPatch(id, { assignee: 'temp' });
  const r = await runCli(['user', 'set-role', 'temp', 'viewer', '--db', srv.dbPath]);
  assert.equal(r.code, 0, r.stderr);
  // Re-sending the current assignee with another change is not a new assignment.
  let inc = await mustPatch(id, { assignee: 'temp', status: 'in_progress' });
  assert.equal(inc.assignee, 'temp');
  assert.equal(inc.status, 'in_progress');
  inc = await mustPatch(id, { assignee: '' });
  assert.equal(inc.assignee, '');
  assertError(await patch(id, { assignee: 'temp' }), 400, 'invalid_request', /cannot assign to "temp"/);
  const list = await getJson(srv.url, tok, '/api/v1/assignees');
  assert.deepEqual(list.items.map((u) => u.username), ['ana', 'boss', 'resp']);
});
