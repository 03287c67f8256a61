// Response actions end to end: `stockade serve`, the real `stockade-agent`
// enrolled over mutual TLS, and the fake Kubernetes API server behind it
// (tests/fixtures/fake-k8s). Asserts what the API server ends up holding
// and what the action records say: terminate with its evidence first;
// double isolate makes one policy; release of a pod that is not isolated is
// refused; preconditions from the reported facts (Kubernetes 1.26, an old
// calico, a finished pod) refused in words; an action queued while the
// agent is offline is delivered on reconnect, and fails "agent offline"
// when it expires; an agent killed mid-action gets the command again and
// finishes it; a hanging API server fails the action after the agent's
// timeout while the console keeps answering.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  makeTempDir, startServer, runCli, sleep, until, startAgentRun,
} from './lib/server.mjs';
import { request, cliToken } from './lib/auth.mjs';
import { startFakeK8s } from '../fixtures/fake-k8s/server.mjs';

const WEB = 'web-7f9c6d8b5-x2kqp';
const WEB2 = 'web-7f9c6d8b5-m8r4t';
const OPS = 'ops-toolbox-6c9d7f5b4-tq8zn';
const DONE = 'migrate-schema-28377410-8zq4m';
const QUEUE_TTL_S = 6;

let fake;
let srv;
let bearer;
let stateDir;
let agent = null;

function startAgent(extra = []) {
  return startAgentRun(['--server', `127.0.0.1:${srv.gatewayPort}`, '--state-dir', stateDir,
    '--kube-server', fake.url, '--kube-token-file', fake.tokenFile, '--kube-ca-file', fake.caFile,
    '--kube-timeout-s', '2', '--facts-interval-s', '1', '--backoff-max-s', '1', ...extra]);
}

const get = async (p) => {
  const r = await request(srv.url, 'GET', p, { bearer });
  assert.equal(r.status, 200, `${p}: ${r.text}`);
  return r.json;
};

function post(type, ns, pod, extra = {}) {
  return request(srv.url, 'POST', '/api/v1/actions', {
    bearer, body: { type, target: { cluster: 'prod-aks', namespace: ns, pod }, comment: 'e2e', ...extra },
  });
}

const ended = (id, ms = 30000) => until(async () => {
  const a = await get(`/api/v1/actions/${id}`);
  return ['succeeded', 'failed', 'cancelled'].includes(a.status) ? a : null;
}, ms, `action ${id} to end`);

async function connected(yes = true) {
  await until(async () => {
    const items = (await get('/api/v1/agents')).items;
    return items.some((x) => x.cluster === 'prod-aks' && x.connected) === yes;
  }, 30000, `the agent to be ${yes ? '' : 'dis'}connected`);
}

before(async () => {
  fake = await startFakeK8s({ dir: makeTempDir('fake-k8s-') });
  srv = await startServer({ args: ['--action-queue-ttl-s', String(QUEUE_TTL_S)] });
  bearer = await cliToken(srv.dbPath, 'e2e', ['alerts:read', 'alerts:manage', 'response:read',
                                              'response:manage', 'admin']);
  stateDir = path.join(makeTempDir('agent-actions-'), 'state');
  const r = await runCli(['agent', 'enroll-token', '--cluster', 'prod-aks', '--db', srv.dbPath,
                          '--data-dir', path.join(srv.dir, 'data')]);
  assert.equal(r.code, 0, r.stderr);
  agent = startAgent(['--enroll-token', r.stdout.trim()]);
  await connected();
  // Its facts arrived: the pods are known with their phases.
  await until(async () => {
    const plan = await post('terminate', 'storefront', WEB, { dry_run: true });
    return plan.status === 200 && plan.json.pod_state && plan.json.pod_state.phase === 'Running';
  }, 30000, 'the facts');
});

after(async () => {
  if (agent) await agent.stop().catch(() => {});
  await fake?.close();
});

describe('actions through the agent', () => {
  test('terminate captures evidence first, then the pod is gone', async () => {
    const res = await post('terminate', 'ops', OPS);
    assert.equal(res.status, 202, res.text);
    assert.ok(['pending', 'dispatched'].includes(res.json.status), res.text);
    const a = await ended(res.json.id);
    assert.equal(a.status, 'succeeded', JSON.stringify(a));
    assert.equal(a.has_evidence, true);
    assert.equal(fake.pod('ops', OPS), undefined, 'the pod was deleted');
    const ev = await request(srv.url, 'GET', `/api/v1/actions/${a.id}/evidence`, { bearer });
    assert.equal(ev.status, 200);
    assert.match(ev.headers['content-disposition'], /attachment; filename="action-\d+-evidence.json"/);
    assert.match(ev.headers['x-content-sha256'], /^[0-9a-f]{64}$/);
    assert.equal(ev.json.manifest.metadata.name, OPS);
    assert.ok(ev.json.logs && typeof ev.json.logs === 'object', 'container logs captured');
    // The log request came before the delete.
    const reqs = fake.requests.map((r) => `${r.method} ${r.path}`);
    const logAt = reqs.findIndex((r) => r.startsWith(`GET /api/v1/namespaces/ops/pods/${OPS}/log`));
    const delAt = reqs.findIndex((r) => r === `DELETE /api/v1/namespaces/ops/pods/${OPS}`);
    assert.ok(logAt >= 0 && delAt > logAt, `log ${logAt} before delete ${delAt}`);
    // Terminating it again: the server knows it is gone (marked Deleted by
    // the result, then absent from the agent's next facts).
    const again = await post('terminate', 'ops', OPS);
    assert.equal(again.status, 409, again.text);
    assert.match(again.json.error.message, new RegExp(`^pod (${OPS} is not active \\(Deleted\\)|ops/${OPS} `
      + 'was not reported by the agent of cluster prod-aks)$'));
  });

  test('double isolate makes one policy; release of a pod that is not isolated is refused', async () => {
    const plan = await post('isolate', 'storefront', WEB, { dry_run: true });
    assert.equal(plan.status, 200, plan.text);
    const one = await ended((await post('isolate', 'storefront', WEB)).json.id);
    // The dry run showed exactly what the agent applied.
    const applied = fake.policy('storefront', `stockade-isolate-${WEB}`);
    assert.deepEqual(applied.spec, plan.json.network_policy.spec);
    assert.deepEqual(applied.metadata.labels, plan.json.network_policy.metadata.labels);
    assert.equal(applied.metadata.name, plan.json.network_policy.metadata.name);
    assert.equal(one.status, 'succeeded', JSON.stringify(one));
    const two = await ended((await post('isolate', 'storefront', WEB)).json.id);
    assert.equal(two.status, 'succeeded', JSON.stringify(two));
    const policies = [...fake.store.networkpolicies.values()].filter((p) => p.metadata.name === `stockade-isolate-${WEB}`);
    assert.equal(policies.length, 1);
    assert.deepEqual(policies[0].spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(fake.pod('storefront', WEB).metadata.labels['stockade.io/isolated'], 'true');
    const e = await get(`/api/v1/actions/${two.id}`);
    assert.equal(e.pod_isolated, true);

    const rel = await post('release', 'storefront', WEB2);
    assert.equal(rel.status, 409, rel.text);
    assert.equal(rel.json.error.message, `pod ${WEB2} is not isolated`);
    const ok = await ended((await post('release', 'storefront', WEB)).json.id);
    assert.equal(ok.status, 'succeeded', JSON.stringify(ok));
    assert.equal(fake.policy('storefront', `stockade-isolate-${WEB}`), undefined);
    assert.equal(fake.pod('storefront', WEB).metadata.labels['stockade.io/isolated'], undefined);
  });

  test('preconditions from the reported facts are refused in words', async () => {
    const fin = await post('isolate', 'storefront', DONE);
    assert.equal(fin.status, 409);
    assert.equal(fin.json.error.message, `pod ${DONE} is not active (Succeeded)`);
    const none = await post('isolate', 'storefront', 'no-such-pod');
    assert.equal(none.status, 409);
    assert.equal(none.json.error.message,
      'pod storefront/no-such-pod was not reported by the agent of cluster prod-aks');

    fake.setKnobs({ version: 'v1.26.3' });
    await until(async () => (await post('isolate', 'storefront', WEB2)).status === 409, 20000,
      'the new version to be reported');
    const old = await post('isolate', 'storefront', WEB2);
    assert.equal(old.json.error.message, 'isolate needs Kubernetes 1.27 or later; cluster prod-aks runs 1.26');
    // Terminate needs no network policy and no version.
    const plan = await post('terminate', 'storefront', WEB2, { dry_run: true });
    assert.equal(plan.json.allowed, true, plan.text);
    fake.setKnobs({ version: 'v1.29.4' });

    const calico = [...fake.store.pods.values()].filter((p) => p.metadata.labels?.['k8s-app'] === 'calico-node');
    assert.ok(calico.length > 0);
    const images = calico.map((p) => p.spec.containers[0].image);
    for (const p of calico) p.spec.containers[0].image = 'docker.io/calico/node:v3.20.0';
    await until(async () => {
      const r = await post('isolate', 'storefront', WEB2);
      return r.status === 409 && r.json.error.message === 'isolate needs calico 3.24.1 or later on cluster prod-aks: calico 3.20.0 is older than 3.24.1';
    }, 20000, 'the old calico to be reported and refused');
    calico.forEach((p, i) => { p.spec.containers[0].image = images[i]; });
    await until(async () => (await post('isolate', 'storefront', WEB2, { dry_run: true })).json.allowed,
      20000, 'calico back');
  });

  test('a hanging API server fails the action after the timeout; the console keeps answering', async () => {
    fake.setKnobs({ hang: [{ method: 'PATCH', path: `/pods/${WEB2}` }, { method: 'POST', path: '/networkpolicies' }] });
    const res = await post('isolate', 'storefront', WEB2);
    assert.equal(res.status, 202, res.text);
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) {
      const h = await request(srv.url, 'GET', '/api/v1/actions?limit=5', { bearer });
      assert.equal(h.status, 200);
    }
    assert.ok(Date.now() - t0 < 2000, 'the console answered while the agent waited');
    const a = await ended(res.json.id);
    assert.equal(a.status, 'failed');
    assert.match(a.failure_reason, /did not answer within 2 s/);
    fake.setKnobs({ hang: [] });
  });
});

describe('offline agents', () => {
  test('an action queued while the agent is offline is delivered on reconnect', async () => {
    await agent.stop();
    await connected(false);
    const res = await post('isolate', 'storefront', WEB2);
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.status, 'pending');
    await sleep(500);
    assert.equal((await get(`/api/v1/actions/${res.json.id}`)).status, 'pending');
    agent = startAgent();
    const a = await ended(res.json.id);
    assert.equal(a.status, 'succeeded', JSON.stringify(a));
    assert.ok(fake.policy('storefront', `stockade-isolate-${WEB2}`));
  });

  test('it fails "agent offline" when it expires before the agent is back', async () => {
    await agent.stop();
    await connected(false);
    const res = await post('release', 'storefront', WEB2);
    assert.equal(res.status, 202, res.text);
    const a = await ended(res.json.id, (QUEUE_TTL_S + 10) * 1000);
    assert.equal(a.status, 'failed');
    assert.equal(a.failure_reason,
      'agent offline: no agent of cluster prod-aks took the action before it expired');
    // Long gone now: refused at once.
    const late = await post('release', 'storefront', WEB2);
    assert.equal(late.status, 409);
    assert.match(late.json.error.message, /^no agent connected for cluster prod-aks \(last seen \d+ seconds ago\)$/);
    agent = startAgent();
    await connected();
  });

  test('an agent killed mid-action gets the command again and finishes it once', async () => {
    fake.setKnobs({ hang: [{ method: 'DELETE', path: `/networkpolicies/stockade-isolate-${WEB2}` }] });
    const res = await post('release', 'storefront', WEB2);
    assert.equal(res.status, 202, res.text);
    await until(async () => fake.requests.some((r) => r.method === 'DELETE' && r.path.includes(`stockade-isolate-${WEB2}`)),
      20000, 'the agent to be inside the release');
    await agent.stop('SIGKILL');
    fake.setKnobs({ hang: [] });
    assert.equal((await get(`/api/v1/actions/${res.json.id}`)).status, 'dispatched');
    agent = startAgent();
    const a = await ended(res.json.id);
    assert.equal(a.status, 'succeeded', JSON.stringify(a));
    assert.equal(fake.policy('storefront', `stockade-isolate-${WEB2}`), undefined);
    assert.equal(fake.pod('storefront', WEB2).metadata.labels['stockade.io/isolated'], undefined);
  });
});
