// Response actions in a real browser, on the demo scenario with a real
// `stockade-agent --simulate` for prod-aks connected over mutual TLS (as
// `make run` does): a responder opens the multi-stage incident, selects the
// pod in the graph, isolates it from the pane's Actions menu with a reason
// (the dialog shows the dry run: the label patch, the NetworkPolicy, the one
// pod it matches), sees it succeed, finds it in the Action center with its
// full record, comments on it and releases the pod from there; an analyst
// sees the isolate control disabled with "Requires Response: Manage".
//
// The tests of this file build on each other (node:test runs them in order).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';

import { SOURCE_DIR, runCli, screenshot, useHarness, withTimeout } from './lib/harness.mjs';

const h = useHarness({ prefix: 'actions', serverArgs: ['--anon-proxies', '185.220.101.0/24'] });

const RESPONDER = { username: 'act-responder', password: 'act-responder-password-1', role: 'responder' };
const ANALYST = { username: 'act-analyst', password: 'act-analyst-password-1', role: 'analyst' };
const POD = 'web-7f9c6d8b5-x2kqp';
const POD_KEY = `pod:prod-aks/storefront/${POD}`;
const LOADER_MS = 150_000;
const ACTION_MS = 20_000;

let agent = null;
after(() => {
  if (agent && agent.exitCode === null) agent.kill('SIGTERM');
});

function run(cmd, args, what, ms) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  proc.stdout.resume();
  const done = new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exit ${code}:\n${err}`))));
  });
  return withTimeout(done, ms, what).catch((e) => {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    throw e;
  });
}

/** Starts the simulated agent of prod-aks and waits until it said hello. */
async function startAgent(token) {
  const m = /gateway listening on (127\.0\.0\.1:\d+)/.exec(h.server.stdout);
  assert.ok(m, `the gateway address in: ${h.server.stdout}`);
  const enroll = (await runCli(h.server, ['agent', 'enroll-token', '--cluster', 'prod-aks'])).trim();
  assert.match(enroll, /^stke_/);
  const bin = process.env.STOCKADE_AGENT_BIN;
  assert.ok(bin, 'STOCKADE_AGENT_BIN is not set (run the browser tests through ctest)');
  agent = spawn(bin, ['run', '--server', m[1], '--state-dir', path.join(h.server.tmp, 'agent'),
    '--enroll-token', enroll, '--simulate'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  agent.stderr.setEncoding('utf8').on('data', (d) => { log += d; });
  const deadline = Date.now() + ACTION_MS;
  for (;;) {
    const r = await fetch(h.url('/api/v1/actions'), { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    const ent = await fetch(h.url(`/api/v1/incidents?limit=1`), { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(ent.status, 200);
    if (/event=connected/.test(log) && /event=facts_sent|event=connected/.test(log)) break;
    assert.ok(Date.now() < deadline, `the agent did not connect:\n${log}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  return () => log;
}

let loaded = null;
function demo() {
  loaded ??= (async () => {
    await run('bash', [path.join(SOURCE_DIR, 'scripts', 'demo-load.sh'), h.server.url, h.server.db,
      path.join(h.server.tmp, 'demo-state')], 'scripts/demo-load.sh', LOADER_MS);
    await h.addUser(RESPONDER);
    await h.addUser(ANALYST);
    const token = (await runCli(h.server, ['token', 'create', '--name', 'act-test', '--permissions',
      'alerts:read,alerts:manage,response:read,response:manage'])).trim();
    const agentLog = await startAgent(token);
    const get = async (p) => {
      const r = await fetch(h.url(p), { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, `${p}: ${r.status}`);
      return r.json();
    };
    const list = await get('/api/v1/incidents?limit=200');
    const multi = list.items.find((i) => i.high_impact && new RegExp(POD).test(i.title || ''));
    assert.ok(multi, 'the multi-stage incident');
    const inc = await get(`/api/v1/incidents/${multi.id}`);
    const pod = inc.entities.find((e) => e.key === POD_KEY);
    assert.ok(pod, 'the pod is an entity of the incident');
    // The agent's facts reached the pod: it is reported, running.
    const deadline = Date.now() + ACTION_MS;
    for (;;) {
      const e = await get(`/api/v1/entities/${pod.id}`);
      if (e.details && e.details.status === 'Running') break;
      assert.ok(Date.now() < deadline, `pod facts never arrived: ${JSON.stringify(e.details)}\n${agentLog()}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    return { token, incident: multi.id, pod: pod.id, get, agentLog };
  })();
  return loaded;
}

async function openPodPane(page, ids) {
  const res = await page.goto(h.url(`/incidents/${ids.incident}`));
  assert.equal(res.status(), 200);
  await page.locator('[data-testid="graph"][data-state="ready"]').waitFor();
  await page.locator(`[data-testid="graph"] g.node[data-id="${ids.pod}"] circle.disc`).click();
  const pane = page.getByTestId('entity-pane');
  await pane.locator(`[data-testid="entity-actions"][data-entity-id="${ids.pod}"] h4`).waitFor();
  return pane;
}

test('a responder isolates the pod from the incident graph and sees it succeed', async (t) => {
  const ids = await demo();
  const { page } = await h.newPage(t, { user: RESPONDER });
  const pane = await openPodPane(page, ids);
  const isolate = pane.getByTestId('action-isolate');
  await isolate.waitFor();
  assert.equal(await isolate.isDisabled(), false, 'isolate is enabled for a responder');
  await isolate.click();

  const dlg = page.getByTestId('action-dialog');
  await dlg.getByTestId('action-policy').waitFor();
  const policy = JSON.parse(await dlg.getByTestId('action-policy').textContent());
  assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
  assert.equal(policy.metadata.namespace, 'storefront');
  assert.deepEqual(policy.spec.podSelector.matchLabels,
    { 'stockade.io/isolated': 'true', 'stockade.io/isolation': POD });
  assert.match(await dlg.getByTestId('action-matched').textContent(), /exactly one pod: web-7f9c6d8b5-x2kqp/);
  const patch = JSON.parse(await dlg.getByTestId('action-label-patch').textContent());
  assert.equal(patch.metadata.labels['stockade.io/isolated'], 'true');

  const submit = dlg.getByTestId('action-submit');
  assert.equal(await submit.isDisabled(), true, 'no confirmation, no reason: no submit');
  await dlg.getByTestId('action-reason').fill('crypto miner in the web pod; contain before forensics');
  assert.equal(await submit.isDisabled(), true, 'still needs the confirmation');
  await dlg.getByTestId('action-confirm').check();
  await screenshot(page, 'actions-isolate-dialog');
  await submit.click();
  await dlg.locator('[data-testid="action-live-status"]').filter({ hasText: /succeeded/ }).waitFor({ timeout: ACTION_MS });
  await screenshot(page, 'actions-isolate-succeeded');

  const actions = await ids.get('/api/v1/actions?type=isolate');
  assert.equal(actions.items.length, 1);
  const a = actions.items[0];
  assert.equal(a.status, 'succeeded');
  assert.equal(a.requested_by, RESPONDER.username);
  assert.equal(a.incident_id, ids.incident);
  assert.equal(a.result.network_policy.name, `stockade-isolate-${POD}`);
  const pod = await ids.get(`/api/v1/entities/${ids.pod}`);
  assert.equal(pod.details.isolated, true, 'the pod entity shows its isolation');
  const inc = await ids.get(`/api/v1/incidents/${ids.incident}`);
  const hist = JSON.stringify(inc.history || []);
  assert.match(hist, /Isolation of pod web-7f9c6d8b5-x2kqp succeeded/, 'the incident history shows the action');
});

test('the Action center shows the record; the responder comments and releases the pod there', async (t) => {
  const ids = await demo();
  const { page } = await h.newPage(t, { user: RESPONDER });
  await page.goto(h.url('/action-center'));
  const row = page.locator('[data-testid="action-row"][data-status="succeeded"]').first();
  await row.waitFor();
  assert.match(await row.textContent(), /Isolate.*storefront\/web-7f9c6d8b5-x2kqp.*prod-aks.*act-responder/);
  await row.click();
  const detail = page.getByTestId('action-pane');
  await detail.getByTestId('action-detail-status').filter({ hasText: 'Succeeded' }).waitFor();
  assert.match(await detail.getByTestId('action-detail-comment').textContent(), /crypto miner/);

  await detail.getByTestId('action-comment-text').fill('policy verified from the node');
  await detail.getByTestId('action-comment-add').click();
  await detail.getByTestId('action-comment').filter({ hasText: 'policy verified from the node' }).waitFor();

  page.once('dialog', (d) => d.accept('forensics done, pod clean'));
  await detail.getByTestId('action-release').click();
  await page.locator('[data-testid="action-pane"] [data-testid="action-detail-status"]')
    .filter({ hasText: /Succeeded|Dispatched|Pending/ }).waitFor();
  const deadline = Date.now() + ACTION_MS;
  let rel;
  for (;;) {
    rel = (await ids.get('/api/v1/actions?type=release')).items[0];
    if (rel && rel.status === 'succeeded') break;
    assert.ok(Date.now() < deadline, `release did not succeed: ${JSON.stringify(rel)}\n${ids.agentLog()}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(rel.comment, 'forensics done, pod clean');
  assert.equal(rel.requested_by, RESPONDER.username);
  await page.reload();
  await page.locator('[data-testid="action-row"][data-status="succeeded"]').nth(1).waitFor();
  assert.equal(await page.locator('[data-testid="action-row"]').count(), 2);
  await screenshot(page, 'actions-center');
  const pod = await ids.get(`/api/v1/entities/${ids.pod}`);
  assert.equal(pod.details.isolated, false, 'released');
});

test('an analyst sees the isolate control disabled with the reason', async (t) => {
  const ids = await demo();
  const { page } = await h.newPage(t, { user: ANALYST });
  const pane = await openPodPane(page, ids);
  const isolate = pane.getByTestId('action-isolate');
  await isolate.waitFor();
  assert.equal(await isolate.isDisabled(), true);
  assert.equal(await isolate.getAttribute('title'), 'Requires Response: Manage');
  assert.equal((await pane.getByTestId('action-isolate-reason').textContent()).trim(),
    'Requires Response: Manage');
  assert.equal(await pane.getByTestId('action-terminate').isDisabled(), true);
  await screenshot(page, 'actions-analyst-disabled');
});
