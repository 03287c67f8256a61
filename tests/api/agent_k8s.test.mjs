// The real stockade-agent binary against a fake Kubernetes API server
// (tests/fixtures/fake-k8s/server.mjs), through `stockade-agent exec-local`,
// which runs one operation and prints its outcome as JSON. Asserts what the
// API server ends up holding: the NetworkPolicy (selector, policyTypes, no
// rules), the labels, deleted pods, and the precise failures of 401, 403,
// 500, a hanging server, a wrong CA and malformed responses.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  makeTempDir, assertNoSanitizerReport, childEnv, startServer, runCli, withTimeout, until,
  startAgentRun,
} from './lib/server.mjs';
import { request, cliToken } from './lib/auth.mjs';
import { startFakeK8s, makeCerts } from '../fixtures/fake-k8s/server.mjs';

const AGENT = process.env.STOCKADE_AGENT_BIN;
if (!AGENT) throw new Error('STOCKADE_AGENT_BIN must be set (run the tests through ctest)');

const WEB = 'web-7f9c6d8b5-x2kqp';
const WEB2 = 'web-7f9c6d8b5-m8r4t';
const LONG = 'nightly-report-generator-with-a-very-long-name-that-passes-sixty-three-chars-x7k2p';

/** Runs the agent to completion: {code, stdout, stderr, json, ms}. */
function runAgent(args, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const proc = spawn(AGENT, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`stockade-agent ${args.join(' ')} ran over ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code) => {
      clearTimeout(timer);
      try {
        assertNoSanitizerReport(stderr, `stockade-agent ${args.join(' ')}`);
      } catch (e) {
        reject(e);
        return;
      }
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code, stdout, stderr, json, ms: Date.now() - started });
    });
  });
}

let fake;
let kube; // the --kube-* flags for `fake`

function exec(action, ns, pod, extra = []) {
  const args = ['exec-local', '--action', action, ...kube, '--cluster', 'prod-aks', ...extra];
  if (ns) args.push('--namespace', ns);
  if (pod) args.push('--pod', pod);
  return runAgent(args);
}

const policyName = (key) => `stockade-isolate-${key}`;

before(async () => {
  fake = await startFakeK8s({ dir: makeTempDir('fake-k8s-') });
  kube = ['--kube-server', fake.url, '--kube-token-file', fake.tokenFile,
          '--kube-ca-file', fake.caFile];
});

after(async () => {
  await fake?.close();
});

describe('facts', () => {
  test('version, plugin, pods and services as docs/agents.md describes', async () => {
    const r = await exec('facts');
    assert.equal(r.code, 0, r.stderr);
    const f = r.json;
    assert.equal(f.kubernetes_version, '1.29.7');
    assert.equal(f.cloud, 'aks'); // node names aks-nodepool1-...
    assert.deepEqual(f.network_policy, { plugin: 'calico', version: '3.26.1' });
    const web = f.pods.find((p) => p.name === WEB);
    assert.equal(web.namespace, 'storefront');
    assert.equal(web.phase, 'Running');
    assert.equal(web.node, 'aks-nodepool1-31718369-vmss000002');
    assert.deepEqual(web.images, ['acmeprodacr.azurecr.io/storefront/web:2.14.1',
                                  'docker.io/istio/proxyv2:1.22.3']);
    assert.equal(web.isolated, false);
    assert.equal(typeof web.uid, 'string');
    assert.equal(f.pods.length, fake.store.pods.size);
    const svc = f.services.find((s) => s.name === 'web');
    assert.deepEqual(svc, { namespace: 'storefront', name: 'web', type: 'LoadBalancer',
                            cluster_ip: '10.0.142.17', external: true, ports: [443],
                            selector: { app: 'web' } });
    assert.equal(f.services.find((s) => s.name === 'kube-dns').external, false);
  });

  test('the same facts from chunked responses and across pages', async () => {
    const plain = (await exec('facts')).json;
    fake.setKnobs({ chunked: true });
    try {
      const chunked = await exec('facts');
      assert.equal(chunked.code, 0, chunked.stderr);
      assert.deepEqual(chunked.json, plain);
    } finally {
      fake.resetKnobs();
    }
    // 600 more pods: more than one page of 500.
    const added = [];
    for (let i = 0; i < 600; i++) {
      const name = `filler-${i}`;
      added.push(name);
      fake.addPod({ metadata: { name, namespace: 'filler', labels: { app: 'filler' } },
                    spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
                    status: { phase: 'Running' } });
    }
    try {
      const r = await exec('facts');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.pods.length, plain.pods.length + 600);
      const lists = fake.requests.filter((q) => q.path === '/api/v1/pods');
      assert.ok(lists.some((q) => q.query.continue), 'the second page was asked for');
    } finally {
      for (const n of added) fake.store.pods.delete(`filler/${n}`);
    }
  });
});

describe('isolate and release', () => {
  test('isolate labels the pod and applies a deny-all NetworkPolicy selecting it', async () => {
    const r = await exec('isolate', 'storefront', WEB);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.json.status, 'succeeded');
    assert.match(r.json.reason, /isolated/);
    const pol = fake.policy('storefront', policyName(WEB));
    assert.ok(pol, 'the policy exists');
    assert.deepEqual(pol.spec.podSelector, {
      matchLabels: { 'stockade.io/isolated': 'true', 'stockade.io/isolation': WEB },
    });
    assert.deepEqual(pol.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(pol.spec.ingress, undefined);
    assert.equal(pol.spec.egress, undefined);
    const labels = fake.pod('storefront', WEB).metadata.labels;
    assert.equal(labels['stockade.io/isolated'], 'true');
    assert.equal(labels['stockade.io/isolation'], WEB);
    assert.equal(labels.app, 'web', 'other labels stay');
    const patch = fake.requests.filter((q) => q.method === 'PATCH').at(-1);
    assert.equal(patch.contentType, 'application/merge-patch+json');
    assert.equal(r.json.details.policy, 'created');
    assert.deepEqual(r.json.details.network_policy.spec, pol.spec);
    // The facts now say so.
    const f = (await exec('facts')).json;
    assert.equal(f.pods.find((p) => p.name === WEB).isolated, true);
  });

  test('a second isolate reuses the policy (409 AlreadyExists) and creates no second one', async () => {
    const before0 = fake.policies().length;
    const uid = fake.policy('storefront', policyName(WEB)).metadata.uid;
    const r = await exec('isolate', 'storefront', WEB);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.json.status, 'succeeded');
    assert.equal(r.json.details.policy, 'reused');
    assert.match(r.json.reason, /already isolated/);
    assert.equal(fake.policies().length, before0);
    assert.equal(fake.policy('storefront', policyName(WEB)).metadata.uid, uid);
  });

  test('isolate puts back a policy someone opened up', async () => {
    const pol = fake.policy('storefront', policyName(WEB));
    pol.spec.ingress = [{}]; // allow everything in
    const r = await exec('isolate', 'storefront', WEB);
    assert.equal(r.json.status, 'succeeded');
    assert.equal(r.json.details.policy, 'restored');
    assert.equal(fake.policy('storefront', policyName(WEB)).spec.ingress, undefined);
  });

  test('the tamper check restores a deleted policy and removed labels', async () => {
    fake.store.networkpolicies.delete(`storefront/${policyName(WEB)}`);
    const pod = fake.pod('storefront', WEB);
    delete pod.metadata.labels['stockade.io/isolated'];
    const r = await exec('tamper', 'storefront', WEB);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.json.tamper.type, 'tamper');
    assert.equal(r.json.tamper.restored, true);
    assert.match(r.json.tamper.what, /NetworkPolicy .* was deleted; the isolation labels were removed/);
    assert.ok(fake.policy('storefront', policyName(WEB)));
    assert.equal(fake.pod('storefront', WEB).metadata.labels['stockade.io/isolated'], 'true');
    const again = await exec('tamper', 'storefront', WEB);
    assert.equal(again.json.tamper, null);
  });

  test('release removes the policy and both labels', async () => {
    const r = await exec('release', 'storefront', WEB);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.json.status, 'succeeded');
    assert.match(r.json.reason, /released/);
    assert.equal(fake.policy('storefront', policyName(WEB)), undefined);
    const labels = fake.pod('storefront', WEB).metadata.labels;
    assert.equal(labels['stockade.io/isolated'], undefined);
    assert.equal(labels['stockade.io/isolation'], undefined);
    assert.equal(labels.app, 'web');
  });

  test('releasing a pod that is not isolated succeeds and says so', async () => {
    const r = await exec('release', 'storefront', WEB);
    assert.equal(r.code, 0);
    assert.equal(r.json.status, 'succeeded');
    assert.equal(r.json.reason, `pod storefront/${WEB} was not isolated; nothing to release`);
    assert.equal(r.json.details.was_isolated, false);
    const gone = await exec('release', 'storefront', 'no-such-pod');
    assert.equal(gone.json.status, 'succeeded');
    assert.match(gone.json.reason, /no longer exists/);
  });

  test('a pod name longer than a label value is keyed by its hash', async () => {
    const r = await exec('isolate', 'batch', LONG);
    assert.equal(r.json.status, 'succeeded', r.stdout);
    const key = r.json.details.labels['stockade.io/isolation'];
    assert.match(key, /^h-[0-9a-f]{40}$/);
    assert.ok(fake.policy('batch', policyName(key)));
    assert.equal(fake.pod('batch', LONG).metadata.labels['stockade.io/isolation'], key);
    const rel = await exec('release', 'batch', LONG);
    assert.equal(rel.json.status, 'succeeded');
    assert.equal(fake.policy('batch', policyName(key)), undefined);
  });
});

describe('refusals in words an analyst can act on', () => {
  test('a pod that is not active', async () => {
    const r = await exec('isolate', 'storefront', 'migrate-schema-28377410-8zq4m');
    assert.equal(r.code, 1);
    assert.equal(r.json.status, 'refused');
    assert.equal(r.json.reason, 'pod migrate-schema-28377410-8zq4m is not active (Succeeded)');
    const t = await exec('terminate', 'storefront', 'migrate-schema-28377410-8zq4m');
    assert.equal(t.json.status, 'refused');
    assert.equal(fake.pod('storefront', 'migrate-schema-28377410-8zq4m').metadata.name,
                 'migrate-schema-28377410-8zq4m');
  });

  test('a pod that does not exist', async () => {
    const r = await exec('isolate', 'storefront', 'web-7f9');
    assert.equal(r.json.status, 'refused');
    assert.equal(r.json.reason, 'pods "web-7f9" not found (404 NotFound)');
  });

  test('Kubernetes older than 1.27', async () => {
    fake.setKnobs({ version: 'v1.26.3' });
    try {
      const r = await exec('isolate', 'storefront', WEB2);
      assert.equal(r.json.status, 'refused');
      assert.equal(r.json.reason, 'isolate needs Kubernetes 1.27 or later; cluster prod-aks runs 1.26');
    } finally {
      fake.setKnobs({ version: 'v1.29.7' });
    }
    assert.equal(fake.policies().length, 0);
  });

  test('a network policy plugin older than its minimum (the oldest pod counts)', async () => {
    const old = fake.addPod({
      metadata: { name: 'calico-node-old01', namespace: 'kube-system', labels: { 'k8s-app': 'calico-node' } },
      spec: { containers: [{ name: 'calico-node', image: 'docker.io/calico/node:v3.20.0' }] },
      status: { phase: 'Running' },
    });
    try {
      const r = await exec('isolate', 'storefront', WEB2);
      assert.equal(r.json.status, 'refused');
      assert.match(r.json.reason, /calico 3\.20\.0 is older than 3\.24\.1/);
      const f = await exec('facts');
      assert.deepEqual(f.json.network_policy, { plugin: 'calico', version: '3.20.0' });
    } finally {
      fake.store.pods.delete(`kube-system/${old.metadata.name}`);
    }
  });
});

describe('terminate', () => {
  test('captures the manifest and the last 200 lines of each log, then deletes the pod', async () => {
    // The web container logged 261 lines; istio-proxy gets 200 lines of 1 KiB (over 64 KiB).
    fake.setLog('storefront', WEB, 'istio-proxy',
                Array.from({ length: 300 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(1018)}\n`).join(''));
    const uid = fake.pod('storefront', WEB).metadata.uid;
    const r = await exec('terminate', 'storefront', WEB);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.json.status, 'succeeded');
    const ev = r.json.evidence;
    assert.equal(ev.manifest.metadata.name, WEB);
    assert.equal(ev.manifest.metadata.uid, uid);
    assert.equal(ev.manifest.status.phase, 'Running');
    assert.equal(ev.manifest.metadata.managedFields, undefined);
    assert.deepEqual(Object.keys(ev.logs).sort(), ['istio-init', 'istio-proxy', 'web']);
    const web = ev.logs.web.split('\n').filter(Boolean);
    assert.equal(web.length, 200);
    assert.equal(web.at(-1), 'sh: cat /etc/kubernetes/azure.json');
    assert.ok(Buffer.byteLength(ev.logs['istio-proxy']) <= 64 * 1024);
    assert.ok(ev.logs['istio-proxy'].endsWith(`0299 ${'x'.repeat(1018)}\n`), 'the end is kept');
    const logReq = fake.requests.find((q) => q.path.endsWith(`/pods/${WEB}/log`));
    assert.equal(logReq.query.tailLines, '200');
    // Deleted, with the uid as a precondition.
    assert.equal(fake.pod('storefront', WEB), undefined);
    assert.deepEqual(fake.deleted.at(-1), { kind: 'pods', namespace: 'storefront', name: WEB, uid });
    const del = fake.requests.filter((q) => q.method === 'DELETE').at(-1);
    assert.equal(del.body.preconditions.uid, uid);
    assert.equal(r.json.details.logs_captured, 3);
  });

  test('terminate of a pod already gone is refused with the API words', async () => {
    const r = await exec('terminate', 'storefront', WEB);
    assert.equal(r.json.status, 'refused');
    assert.equal(r.json.reason, `pods "${WEB}" not found (404 NotFound)`);
  });
});

describe('failures carry the API words', () => {
  test('403 Forbidden on creating the policy: failed, nothing left behind', async () => {
    fake.setKnobs({ forbid: [{ method: 'POST', path: 'networkpolicies' }] });
    try {
      const r = await exec('isolate', 'storefront', WEB2);
      assert.equal(r.json.status, 'failed');
      assert.match(r.json.reason, /^networkpolicies\.networking\.k8s\.io is forbidden: User "system:serviceaccount:stockade:stockade-agent" cannot create resource "networkpolicies" in API group "networking\.k8s\.io" in the namespace "storefront" \(403 Forbidden\)$/);
    } finally {
      fake.resetKnobs();
    }
    assert.equal(fake.policies().length, 0);
    assert.equal(fake.pod('storefront', WEB2).metadata.labels['stockade.io/isolated'], undefined);
  });

  test('500 on labelling the pod: failed, and the new policy is taken back', async () => {
    fake.setKnobs({ failures: [{ method: 'PATCH', path: '/pods/', status: 500 }] });
    try {
      const r = await exec('isolate', 'storefront', WEB2);
      assert.equal(r.json.status, 'failed');
      assert.equal(r.json.reason, 'Internal error occurred: etcdserver: request timed out (500 InternalError)');
    } finally {
      fake.resetKnobs();
    }
    assert.equal(fake.policies().length, 0);
  });

  test('a hanging API server fails the action after the timeout (2 s here)', async () => {
    fake.setKnobs({ hang: [{ method: 'GET', path: `/pods/${WEB2}` }] });
    try {
      const r = await exec('isolate', 'storefront', WEB2, ['--kube-timeout-s', '2']);
      assert.equal(r.json.status, 'failed');
      assert.equal(r.json.reason, 'Kubernetes API did not answer within 2 s');
      assert.ok(r.ms >= 1900 && r.ms < 8000, `took ${r.ms} ms`);
    } finally {
      fake.resetKnobs();
    }
  });

  test('the default timeout is 10 s', async () => {
    fake.setKnobs({ hang: [{ path: '/version' }] });
    try {
      const r = await exec('facts');
      assert.equal(r.code, 1);
      assert.equal(r.json.reason, 'Kubernetes API did not answer within 10 s');
      assert.ok(r.ms >= 9900 && r.ms < 20000, `took ${r.ms} ms`);
    } finally {
      fake.resetKnobs();
    }
  });

  test('a wrong token, a CA that did not sign the server, a closed port', async () => {
    const tok = path.join(fake.dir, 'wrong-token');
    fs.writeFileSync(tok, 'not-the-token\n');
    let r = await runAgent(['exec-local', '--action', 'facts', '--kube-server', fake.url,
                            '--kube-token-file', tok, '--kube-ca-file', fake.caFile]);
    assert.equal(r.json.reason, 'Unauthorized (401 Unauthorized)');
    const other = makeCerts(fake.dir, 'other');
    r = await runAgent(['exec-local', '--action', 'facts', '--kube-server', fake.url,
                        '--kube-token-file', fake.tokenFile, '--kube-ca-file', other.caCert]);
    assert.match(r.json.reason, /^Kubernetes API certificate not trusted: /);
    // By name: the certificate has DNS:localhost, not DNS:kubernetes.
    r = await runAgent(['exec-local', '--action', 'facts', '--kube-server', `https://localhost:${fake.port}`,
                        '--kube-token-file', fake.tokenFile, '--kube-ca-file', fake.caFile]);
    assert.equal(r.code, 0, r.stdout);
    r = await runAgent(['exec-local', '--action', 'facts', '--kube-server', 'https://127.0.0.1:1',
                        '--kube-token-file', fake.tokenFile, '--kube-ca-file', fake.caFile]);
    assert.equal(r.json.reason, 'cannot reach the Kubernetes API at 127.0.0.1:1: Connection refused');
  });

  test('malformed responses fail the action without crashing', async () => {
    const cases = [
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc', /malformed response: bad chunk size/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n', /malformed response: bad chunk size/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"gitVersion":', /connection closed mid-response/],
      ['SSH-2.0-OpenSSH_9.2\r\n\r\n', /malformed response: bad status line/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{"a":[1,2', /malformed JSON/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]', /malformed JSON/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}', /no gitVersion/],
      [`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`, /headers over 32768 bytes/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n', /response body over/],
      ['', /closed the connection|connection closed/],
    ];
    for (const [raw, want] of cases) {
      fake.setKnobs({ raw: [{ path: '/version', response: raw }] });
      try {
        const r = await exec('facts');
        assert.equal(r.code, 1, `${JSON.stringify(raw.slice(0, 60))}: ${r.stdout}`);
        assert.match(r.json.reason, want, JSON.stringify(raw.slice(0, 60)));
      } finally {
        fake.resetKnobs();
      }
    }
    // A list whose items are not an array.
    fake.setKnobs({ failures: [{ path: '/api/v1/services', status: 200, body: '{"items":{"x":1}}',
                                 contentType: 'application/json' }] });
    try {
      const r = await exec('facts');
      assert.match(r.json.reason, /has no items array/);
    } finally {
      fake.resetKnobs();
    }
  });
});

describe('command line', () => {
  test('bad arguments and unreadable files exit 2 with one clear line', async () => {
    const cases = [
      [['exec-local', '--action', 'facts', '--bogus'], /unknown option '--bogus'/],
      [['exec-local', '--action', 'isolate', '--simulate'], /needs --action, and --namespace and --pod/],
      [['exec-local', '--action', 'explode', '--simulate'], /--action explode: want isolate/],
      [['exec-local', '--action', 'facts', '--kube-server', fake.url, '--kube-token-file',
        '/nonexistent/token', '--kube-ca-file', fake.caFile], /\/nonexistent\/token: No such file or directory/],
      [['exec-local', '--action', 'facts', '--kube-server', fake.url, '--kube-token-file',
        fake.tokenFile, '--kube-ca-file', fake.tokenFile], /token/],
      [['exec-local', '--action', 'facts', '--kube-server', 'http://x:1', '--kube-token-file',
        fake.tokenFile, '--kube-ca-file', fake.caFile], /must start with https:\/\//],
      [['exec-local', '--action', 'facts', '--simulate', '--kube-server', fake.url], /exclude each other/],
      [['exec-local', '--action', 'facts', '--kube-timeout-s', '0', '--simulate'], /want a whole number from 1 to 300/],
      [['run', '--simulate'], /run needs --server HOST:PORT and --state-dir DIR/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, want] of cases) {
      const r = await runAgent(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want, args.join(' '));
    }
  });

  test('run refuses a state directory without enrollment, or a malformed token', async () => {
    const dir = makeTempDir('agent-state-');
    let r = await runAgent(['run', '--server', '127.0.0.1:1', '--state-dir', dir, '--simulate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /holds no agent\.crt: enroll first with --enroll-token/);
    r = await runAgent(['run', '--server', '127.0.0.1:1', '--state-dir', dir, '--simulate',
                        '--enroll-token', 'stke_short.abc']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--enroll-token: not an enrollment token/);
    fs.chmodSync(dir, 0o755);
    r = await runAgent(['run', '--server', '127.0.0.1:1', '--state-dir', dir, '--simulate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is open to others \(mode 755\); chmod 700 it/);
  });

  test('--simulate plays the demo clusters', async () => {
    let r = await runAgent(['exec-local', '--action', 'facts', '--simulate', '--cluster', 'prod-aks']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.kubernetes_version, '1.29.7');
    assert.equal(r.json.network_policy.plugin, 'azure-npm');
    assert.ok(r.json.pods.some((p) => p.namespace === 'storefront' && p.name === WEB));
    r = await runAgent(['exec-local', '--action', 'isolate', '--simulate', '--cluster', 'prod-aks',
                        '--namespace', 'storefront', '--pod', WEB]);
    assert.equal(r.json.status, 'succeeded');
    r = await runAgent(['exec-local', '--action', 'isolate', '--simulate', '--cluster', 'dev-gke',
                        '--sim-k8s-version', 'v1.26.9', '--namespace', 'sandbox', '--pod', 'netshoot-debug']);
    assert.equal(r.json.reason, 'isolate needs Kubernetes 1.27 or later; cluster dev-gke runs 1.26');
  });
});

// ---------------------------------------------------------------------------
// End to end: stockade serve, the agent enrolled with a real token, the
// fake cluster behind it.

const startAgent = startAgentRun;

describe('end to end through the gateway', () => {
  let srv;
  let bearer;
  let stateDir;
  let agent;

  before(async () => {
    srv = await startServer();
    bearer = await cliToken(srv.dbPath, 'e2e', ['alerts:read', 'alerts:manage', 'response:read',
                                                'response:manage', 'admin']);
    stateDir = path.join(makeTempDir('agent-e2e-'), 'state');
  });

  after(async () => {
    if (agent) await agent.stop().catch(() => {});
  });

  async function enrollToken() {
    const r = await runCli(['agent', 'enroll-token', '--cluster', 'prod-aks', '--db', srv.dbPath,
                           '--data-dir', path.join(srv.dir, 'data')]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  async function action(type, pod) {
    const res = await request(srv.url, 'POST', '/api/v1/actions', {
      bearer, body: { type, target: { cluster: 'prod-aks', namespace: 'storefront', pod }, comment: 'e2e' },
    });
    assert.equal(res.status, 202, res.text);
    return until(async () => {
      const a = await request(srv.url, 'GET', `/api/v1/actions/${res.json.id}`, { bearer });
      return ['succeeded', 'failed', 'refused', 'cancelled'].includes(a.json.status) ? a.json : null;
    }, 30000, `action ${res.json.id} to end`);
  }

  test('a token whose CA pin is not the gateway\'s: refused before anything is sent', async () => {
    const token = await enrollToken();
    const wrong = token.slice(0, -1) + (token.at(-1) === '0' ? '1' : '0');
    const a = startAgent(['--server', `127.0.0.1:${srv.gatewayPort}`, '--state-dir', stateDir,
                          '--enroll-token', wrong, ...kube]);
    const res = await withTimeout(a.closed, 30000, 'the agent to give up');
    assertNoSanitizerReport(a.stderr(), 'stockade-agent run');
    assert.equal(res.code, 1);
    assert.match(a.stderr(), /stockade-agent: server CA does not match the enrollment token\n/);
    assert.equal(fs.existsSync(path.join(stateDir, 'agent.crt')), false);
  });

  test('enrolls, connects, reports facts, and carries out isolate and release', async () => {
    const token = await enrollToken();
    agent = startAgent(['--server', `127.0.0.1:${srv.gatewayPort}`, '--state-dir', stateDir,
                        '--enroll-token', token, '--tamper-interval-s', '1', ...kube]);
    const list = await until(async () => {
      const r = await request(srv.url, 'GET', '/api/v1/agents', { bearer });
      return r.json.items.find((x) => x.cluster === 'prod-aks' && x.connected) ? r.json.items : null;
    }, 30000, 'the agent to connect');
    assert.equal(list.find((x) => x.cluster === 'prod-aks').agent_version, '0.1.0');
    assert.equal(fs.statSync(stateDir).mode & 0o777, 0o700);
    for (const f of ['agent.key', 'agent.crt', 'ca.crt', 'command.pub', 'cluster']) {
      assert.equal(fs.statSync(path.join(stateDir, f)).mode & 0o777, 0o600, f);
    }
    assert.equal(fs.readFileSync(path.join(stateDir, 'cluster'), 'utf8'), 'prod-aks\n');
    assert.match(agent.stderr(), /event=enrolled cluster=prod-aks/);
    assert.match(agent.stderr(), /event=connected /);

    const iso = await action('isolate', WEB2);
    assert.equal(iso.status, 'succeeded', JSON.stringify(iso));
    const pol = fake.policy('storefront', policyName(WEB2));
    assert.deepEqual(pol.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(fake.pod('storefront', WEB2).metadata.labels['stockade.io/isolated'], 'true');

    // Someone deletes the policy: the watch puts it back within seconds.
    fake.store.networkpolicies.delete(`storefront/${policyName(WEB2)}`);
    await until(() => fake.policy('storefront', policyName(WEB2)), 15000, 'the policy to be restored');
    await until(() => /event=tamper_detected namespace=storefront pod=web-7f9c6d8b5-m8r4t restored=true/
      .test(agent.stderr()), 5000, 'the tamper log line');

    const rel = await action('release', WEB2);
    assert.equal(rel.status, 'succeeded', JSON.stringify(rel));
    assert.equal(fake.policy('storefront', policyName(WEB2)), undefined);
    assert.equal(fake.pod('storefront', WEB2).metadata.labels['stockade.io/isolated'], undefined);
    const journal = fs.readFileSync(path.join(stateDir, 'journal'), 'utf8').trim().split('\n');
    assert.equal(journal.length, 2);
    assert.deepEqual(journal.map((l) => JSON.parse(l).status), ['succeeded', 'succeeded']);
  });

  test('SIGTERM stops it cleanly; a revoked agent stops for good', async () => {
    const res = await agent.stop();
    assert.equal(res.code, 0, agent.stderr());
    assert.match(agent.stderr(), /event=agent_stopping reason=signal/);
    // Again, without a token: the state directory is enough.
    agent = startAgent(['--server', `127.0.0.1:${srv.gatewayPort}`, '--state-dir', stateDir, ...kube]);
    await until(() => /event=connected /.test(agent.stderr()), 30000, 'the agent to reconnect');
    const items = (await request(srv.url, 'GET', '/api/v1/agents', { bearer })).json.items;
    const id = items.find((x) => x.cluster === 'prod-aks' && x.connected).id;
    const rv = await request(srv.url, 'POST', `/api/v1/agents/${id}/revoke`, { bearer, body: {} });
    assert.ok(rv.status === 200 || rv.status === 204, rv.text);
    const done = await withTimeout(agent.closed, 30000, 'the revoked agent to exit');
    assertNoSanitizerReport(agent.stderr(), 'stockade-agent run');
    assert.equal(done.code, 1, agent.stderr());
    assert.match(agent.stderr(), /stockade-agent: the server revoked this agent's certificate/);
    agent = null;
  });
});
