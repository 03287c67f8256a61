// /api/v1/actions without any agent: strict request bodies with the field
// named, permissions (Response: Manage for requests, Response: Read for the
// Action center), the "no agent connected" refusal in words (and audited),
// list filters checked, unknown actions 404. The full lifecycle with a real
// agent over TLS is in agent_actions.test.mjs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir, runCli } from './lib/server.mjs';
import { addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';

let srv;
let responder;
let analyst;
let viewer;
let admin;
const target = { cluster: 'prod-aks', namespace: 'shop', pod: 'web-7f9' };

before(async () => {
  const dir = makeTempDir('stockade-actions-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [
    { name: 'rita', role: 'responder', password: 'rita-password-1234' },
    { name: 'ana', role: 'analyst', password: 'ana-password-1234' },
    { name: 'vic', role: 'viewer', password: 'vic-password-1234' },
  ]);
  admin = { bearer: await cliToken(db, 'audit-reader', ['admin']) };
  srv = await startServer({ dir });
  responder = await signIn(srv.url, 'rita', 'rita-password-1234');
  analyst = await signIn(srv.url, 'ana', 'ana-password-1234');
  viewer = await signIn(srv.url, 'vic', 'vic-password-1234');
});

test('requests need Response: Manage; the Action center needs Response: Read', async () => {
  const body = { type: 'isolate', target, comment: 'contain' };
  assertError(await as(srv.url, analyst, 'POST', '/api/v1/actions', { body }), 403, 'forbidden',
    /Requires Response: Manage/);
  assertError(await as(srv.url, viewer, 'POST', '/api/v1/actions', { body }), 403, 'forbidden');
  for (const who of [viewer, analyst, responder]) {
    const r = await as(srv.url, who, 'GET', '/api/v1/actions');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { items: [], next_cursor: null });
  }
  assertError(await as(srv.url, null, 'GET', '/api/v1/actions'), 401, 'unauthorized');
});

test('malformed requests are refused with the field named, nothing stored', async () => {
  const bad = [
    [{ type: 'isolate', target, comment: 'x', extra: 1 }, /expected \{"type"/],
    [{ type: 'isolate', target: { ...target, node: 'n' }, comment: 'x' }, /expected/],
    [{ type: 'isolate', target: 'web-7f9', comment: 'x' }, /expected/],
    [{ type: 'reboot', target, comment: 'x' }, /^type: must be isolate, terminate or release/],
    [{ type: 7, target, comment: 'x' }, /type must be a string/],
    [{ type: 'isolate', target, comment: '' }, /^comment: a reason of 1 to 2000 bytes/],
    [{ type: 'isolate', target }, /^comment/],
    [{ type: 'isolate', target, comment: 'x'.repeat(2001) }, /^comment/],
    [{ type: 'isolate', target: { ...target, cluster: 'a b' }, comment: 'x' }, /^target\.cluster/],
    [{ type: 'isolate', target: { ...target, namespace: '../etc' }, comment: 'x' }, /^target\.namespace/],
    [{ type: 'isolate', target: { ...target, pod: 'A'.repeat(300) }, comment: 'x' }, /^target\.pod/],
    [{ type: 'terminate', target, comment: 'x', isolate_for_s: 60 }, /^isolate_for_s/],
    [{ type: 'isolate', target, comment: 'x', isolate_for_s: -1 }, /^isolate_for_s/],
    [{ type: 'isolate', target, comment: 'x', isolate_for_s: '4h' }, /integers/],
    [{ type: 'isolate', target, comment: 'x', dry_run: 'yes' }, /boolean/],
    [{ type: 'isolate', target, comment: 'x', incident_id: 999999 }, /^incident_id: no incident/],
  ];
  for (const [body, msg] of bad) {
    const r = await as(srv.url, responder, 'POST', '/api/v1/actions', { body });
    assertError(r, 400, 'invalid_request', msg, JSON.stringify(body).slice(0, 80));
  }
  const raw = await as(srv.url, responder, 'POST', '/api/v1/actions', { raw: '{"type":"isolate",' });
  assert.equal(raw.status, 400);
  const list = await as(srv.url, responder, 'GET', '/api/v1/actions');
  assert.equal(list.json.items.length, 0);
});

test('no agent for the cluster: refused in words, audited as denied', async () => {
  const r = await as(srv.url, responder, 'POST', '/api/v1/actions', {
    body: { type: 'terminate', target, comment: 'miner' },
  });
  assertError(r, 409, 'conflict', 'no agent connected for cluster prod-aks (none has ever reported)');
  const plan = await as(srv.url, responder, 'POST', '/api/v1/actions', {
    body: { type: 'isolate', target, comment: 'x', dry_run: true },
  });
  assert.equal(plan.status, 200, plan.text);
  assert.equal(plan.json.allowed, false);
  assert.match(plan.json.reason, /^no agent connected/);
  assert.equal(plan.json.network_policy.spec.policyTypes.join(','), 'Ingress,Egress');
  assert.deepEqual(plan.json.network_policy.spec.podSelector.matchLabels,
    { 'stockade.io/isolated': 'true', 'stockade.io/isolation': 'web-7f9' });
  assert.deepEqual(plan.json.matched_pods, ['web-7f9']);
  const audit = await as(srv.url, admin, 'GET', '/api/v1/audit?action=action.request');
  assert.equal(audit.status, 200, audit.text);
  const items = audit.json.items || audit.json.entries || [];
  const denied = items.find((e) => e.action === 'action.request' && e.outcome === 'denied');
  assert.ok(denied, `no denied action.request in ${audit.text.slice(0, 400)}`);
  assert.equal(denied.actor, 'rita');
});

test('list filters are checked; unknown actions are 404', async () => {
  for (const q of ['status=done', 'type=reboot', 'limit=0', 'limit=201', 'cursor=abc', 'incident_id=-1']) {
    assertError(await as(srv.url, viewer, 'GET', `/api/v1/actions?${q}`), 400, 'invalid_request', undefined, q);
  }
  const ok = await as(srv.url, viewer, 'GET', '/api/v1/actions?status=pending,failed&type=isolate&cluster=x&q=web&limit=5');
  assert.equal(ok.status, 200, ok.text);
  for (const p of ['/api/v1/actions/1', '/api/v1/actions/abc', '/api/v1/actions/1/evidence']) {
    assertError(await as(srv.url, viewer, 'GET', p), 404, 'not_found', undefined, p);
  }
  assertError(await as(srv.url, responder, 'POST', '/api/v1/actions/1/cancel', { body: {} }), 404, 'not_found');
  assertError(await as(srv.url, responder, 'POST', '/api/v1/actions/1/comments', { body: { text: 'x' } }), 404, 'not_found');
  assertError(await as(srv.url, analyst, 'POST', '/api/v1/actions/1/comments', { body: { text: 'x' } }), 403, 'forbidden',
    /Requires Response: Manage/);
});

test('enroll-token refuses a data dir that holds no CA (it would pin a CA no server uses)', async () => {
  const dir = makeTempDir('stockade-no-ca-');
  const r = await runCli(['agent', 'enroll-token', '--cluster', 'prod-aks', '--db', `${dir}/x.db`,
                          '--data-dir', `${dir}/data`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /no agent CA in .*\/data \(the server creates it when it first starts\); pass the server's --data-dir/);
  assert.equal(r.stdout, '');
});

// The two-person rule, comments and evidence with a stand-in agent (node's
// tls module speaking the frame protocol, tests/api/lib/agent.mjs): the
// server's side of the exchange, command frame included.
test('two-person rule: a second responder approves; the command goes out; the result and evidence are kept', async () => {
  const { cliEnrollToken, enrollOk, connectAgent } = await import('./lib/agent.mjs');
  const dir = makeTempDir('stockade-two-person-');
  await addUsers(`${dir}/stockade.db`, [
    { name: 'rita', role: 'responder', password: 'rita-password-1234' },
    { name: 'bob', role: 'responder', password: 'bob-password-12345' },
  ]);
  const s = await startServer({ dir, args: ['--two-person-rule', '1'] });
  const rita2 = await signIn(s.url, 'rita', 'rita-password-1234');
  const bob = await signIn(s.url, 'bob', 'bob-password-12345');
  const id = await enrollOk(s.gatewayPort, await cliEnrollToken(s, 'prod-aks'));
  const facts = {
    kubernetes_version: 'v1.29.4', cloud: 'aks', network_policy: { plugin: 'calico', version: '3.26.1' },
    pods: [{ namespace: 'shop', name: 'web-1', phase: 'Running', labels: { app: 'web' } }], services: [],
  };
  const { conn, welcome } = await connectAgent(s.gatewayPort, id, { facts });
  assert.equal(welcome.type, 'welcome');
  const t = { cluster: 'prod-aks', namespace: 'shop', pod: 'web-1' };
  let r;
  for (let i = 0; i < 50; i++) {
    r = await as(s.url, rita2, 'POST', '/api/v1/actions', { body: { type: 'terminate', target: t, comment: 'miner' } });
    if (r.status === 202) break;
    await new Promise((res) => setTimeout(res, 100)); // the hello's facts are stored by then
  }
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.status, 'awaiting_approval');
  const aid = r.json.id;
  assertError(await as(s.url, rita2, 'POST', `/api/v1/actions/${aid}/approve`, { body: {} }), 403, 'forbidden',
    /a second responder must decide/);
  assertError(await as(s.url, bob, 'POST', `/api/v1/actions/${aid}/reject`, { body: {} }), 400, 'invalid_request',
    /comment/);
  const ok = await as(s.url, bob, 'POST', `/api/v1/actions/${aid}/approve`, { body: { comment: 'agreed' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.approved_by, 'bob');

  const cmd = await conn.next();
  assert.equal(cmd.type, 'command');
  assert.match(cmd.sig, /^[A-Za-z0-9+/]{86}==$/);
  const payload = JSON.parse(cmd.payload);
  assert.equal(payload.id, aid);
  assert.equal(payload.action, 'terminate');
  assert.deepEqual([payload.cluster, payload.namespace, payload.pod], ['prod-aks', 'shop', 'web-1']);
  assert.ok(payload.expires_at > Date.now());
  conn.send({ type: 'ack', id: aid });
  conn.send({ type: 'result', id: aid, status: 'succeeded', reason: '', details: { deleted: true },
              evidence: { manifest: { metadata: { name: 'web-1' } }, logs: { web: 'line 1\nline 2' } } });
  let a;
  for (let i = 0; i < 50; i++) {
    a = (await as(s.url, bob, 'GET', `/api/v1/actions/${aid}`)).json;
    if (a.status === 'succeeded') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(a.status, 'succeeded', JSON.stringify(a));
  assert.ok(a.acked_at > 0 && a.finished_at >= a.acked_at);
  assert.equal(a.has_evidence, true);
  const ev = await as(s.url, bob, 'GET', `/api/v1/actions/${aid}/evidence`);
  assert.equal(ev.status, 200);
  assert.equal(ev.json.logs.web, 'line 1\nline 2');
  // An answer for an action of another cluster, or a second answer: ignored.
  conn.send({ type: 'result', id: aid, status: 'failed', reason: 'late' });
  const c = await as(s.url, bob, 'POST', `/api/v1/actions/${aid}/comments`, { body: { text: 'evidence checked' } });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.text, 'evidence checked');
  const after2 = (await as(s.url, bob, 'GET', `/api/v1/actions/${aid}`)).json;
  assert.equal(after2.status, 'succeeded');
  assert.deepEqual(after2.comments.map((x) => [x.author, x.text]), [['bob', 'evidence checked']]);
  conn.sock.destroy();
});
