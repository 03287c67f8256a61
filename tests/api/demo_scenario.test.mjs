// The demo scenario `make run` loads (scripts/demo-load.sh with the fixtures
// in tests/fixtures/demo/): run the loader against a real server started
// with the demo's anonymising-proxy range, then check through the API that
// the queue tells the stories the README promises, and that a second run of
// the loader stores nothing new.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

import { startServer, childEnv, BIN, SOURCE_DIR, sqlite, withTimeout } from './lib/server.mjs';
import { cliToken } from './lib/auth.mjs';
import { allIncidents, getJson } from './lib/incidents.mjs';

const LOADER = path.join(SOURCE_DIR, 'scripts', 'demo-load.sh');
const PROXIES = '185.220.101.0/24';
const DB_KEY = 'cloud-resource:gcp/projects/acme-prod/instances/orders-db';
const LOAD_TIMEOUT_MS = 180000;

let srv;
let tok;

/** Runs the loader to completion: {code, stdout, stderr}. */
function runLoader() {
  const proc = spawn('bash', [LOADER, srv.url, srv.dbPath, path.join(srv.dir, 'data')], {
    env: childEnv({ STOCKADE_BIN: BIN }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return withTimeout(done, LOAD_TIMEOUT_MS, 'scripts/demo-load.sh').catch((e) => {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  });
}

/** Every incident of the queue with its alerts and entities. */
async function fullQueue() {
  const out = [];
  for (const inc of await allIncidents(srv.url, tok)) {
    out.push(await getJson(srv.url, tok, `/api/v1/incidents/${inc.id}`));
  }
  return out;
}

const has = (inc, pred) => inc.alerts.some(pred);
const entityKeys = (a) => a.entities.map((e) => e.key);

let first;
let queue;

before(async () => {
  srv = await startServer({ args: ['--anon-proxies', PROXIES] });
  first = await runLoader();
  tok = await cliToken(srv.dbPath, 'demo-test', ['alerts:read']);
  queue = await fullQueue();
});

test('the loader succeeds and prints one summary line', () => {
  assert.equal(first.code, 0, `demo-load.sh failed:\n${first.stderr}`);
  const lines = first.stdout.trim().split('\n');
  assert.equal(lines.length, 1, first.stdout);
  const m = /^Demo scenario: (\d+) alerts from (\d+) fixtures \((\d+) new, 0 already loaded\), (\d+) new incidents; the queue holds (\d+) incidents; critical asset orders-db \(entity \d+\)\.$/.exec(lines[0]);
  assert.ok(m, lines[0]);
  assert.equal(m[1], m[3], 'every alert is new on the first load');
  assert.equal(Number(m[4]), queue.length);
  assert.equal(Number(m[5]), queue.length);
  const stored = queue.reduce((n, inc) => n + inc.alerts.length, 0);
  assert.equal(Number(m[1]), stored);
});

test('a multi-stage incident on a critical asset: anonymising proxy, credentials, brute force', () => {
  const a = queue.filter((inc) => inc.alert_count >= 15 && inc.high_impact);
  assert.equal(a.length, 1, `incidents with >= 15 alerts and high impact: ${a.map((i) => i.title)}`);
  const inc = a[0];
  assert.equal(inc.alerts.length, inc.alert_count);
  assert.equal(inc.severity, 'high');
  assert.deepEqual(inc.clusters, ['prod-aks']);
  for (const t of ['initial_access', 'credential_access']) {
    assert.ok(inc.tactics.includes(t), `tactics ${inc.tactics} lack ${t}`);
  }
  assert.ok(inc.entities.some((e) => e.key === 'pod:prod-aks/storefront/web-7f9c6d8b5-x2kqp'));

  const db = inc.entities.find((e) => e.key === DB_KEY);
  assert.ok(db, `entities lack ${DB_KEY}`);
  assert.equal(db.kind, 'cloud-resource');
  assert.equal(db.critical, true);
  assert.equal(inc.entities.filter((e) => e.critical).length, 1, 'only the database is critical');

  // Initial access: the stolen service-account token used from a Tor exit.
  const proxy = inc.alerts.filter((x) => x.rule === 'k8s.anonymising_proxy');
  assert.ok(proxy.length >= 5, `anonymising-proxy alerts: ${proxy.length}`);
  for (const x of proxy) {
    assert.equal(x.provider, 'k8s-audit');
    assert.equal(x.tactic, 'initial_access');
    assert.ok(entityKeys(x).includes('ip:185.220.101.47'), entityKeys(x).join(' '));
    assert.ok(entityKeys(x).includes('identity:prod-aks/system:serviceaccount:storefront:web-sa'));
  }
  // Credential access: the service principal's file, a secret, the key vault.
  assert.ok(has(inc, (x) => x.provider === 'falco' && x.title === 'Read sensitive file untrusted' &&
    JSON.stringify(x.evidence).includes('/etc/kubernetes/azure.json')));
  assert.ok(has(inc, (x) => x.rule === 'k8s.secret_read_by_service_account'));
  assert.ok(has(inc, (x) => x.rule === 'stockade.cloud_credentials_file_read' &&
    entityKeys(x).includes('identity:sp-aks-acme-prod')));
  assert.ok(has(inc, (x) => x.rule === 'k8s.pod_exec'));
  // The brute force from the AKS pod against the database in GCP.
  const brute = inc.alerts.filter((x) => x.rule === 'stockade.db_bruteforce_egress');
  assert.ok(brute.length >= 3, `brute-force alerts: ${brute.length}`);
  for (const x of brute) {
    assert.equal(x.provider, 'stockade-rules');
    assert.equal(x.tactic, 'credential_access');
    assert.equal(x.technique, 'T1110.001');
    for (const k of [DB_KEY, 'ip:203.0.113.45', 'pod:prod-aks/storefront/web-7f9c6d8b5-x2kqp']) {
      assert.ok(entityKeys(x).includes(k), `${x.title} lacks ${k}`);
    }
  }
});

test('a cryptomining incident: exec into pods, binary drift, xmrig, scanning, cluster-admin', () => {
  const b = queue.filter((inc) => has(inc, (x) => x.title === 'Binary drift detected'));
  assert.equal(b.length, 1, `incidents with binary drift: ${b.map((i) => i.title)}`);
  const inc = b[0];
  assert.ok(!inc.high_impact);
  assert.deepEqual(inc.clusters, ['payments-eks']);
  assert.ok(inc.tactics.includes('impact'), inc.tactics.join(' '));

  const drift = inc.alerts.filter((x) => x.title === 'Binary drift detected');
  assert.ok(drift.some((x) => x.provider === 'stockade-rules' &&
    x.evidence.drift?.upper_layer === true && x.evidence.process?.name === 'xmrig' &&
    x.evidence.parent?.name === 'sh' && x.evidence.parent?.ancestors?.includes('containerd-shim')),
  JSON.stringify(drift.map((x) => x.evidence)));
  assert.ok(has(inc, (x) => x.provider === 'falco' && x.title === 'Drop and execute new binary in container'));
  assert.ok(has(inc, (x) => x.provider === 'falco' && x.evidence.process?.name === 'xmrig' &&
    x.rule === 'Detect outbound connections to common miner pool ports' &&
    x.tactic === 'impact' && x.technique === 'T1496'));
  const scans = inc.alerts.filter((x) => x.tactic === 'discovery');
  const tools = new Set(scans.map((x) => x.evidence.process?.name));
  assert.ok(tools.has('nmap') && tools.has('masscan'), `discovery alerts: ${[...tools]}`);
  const crb = inc.alerts.filter((x) => x.rule === 'k8s.cluster_admin_binding');
  assert.equal(crb.length, 1);
  assert.equal(crb[0].title, 'Cluster-admin role binding created');
  assert.ok(entityKeys(crb[0]).includes('identity:payments-eks/ci-deployer'));
  const execs = inc.alerts.filter((x) => x.rule === 'k8s.pod_exec');
  const pods = new Set(execs.flatMap((x) => x.entities.filter((e) => e.kind === 'pod').map((e) => e.key)));
  assert.equal(pods.size, 3, `pods exec'd into: ${[...pods]}`);
  for (const x of execs) assert.ok(entityKeys(x).includes('identity:payments-eks/ci-deployer'));
});

test('smaller incidents of other kinds and informational alerts', () => {
  const big = new Set(queue.filter((inc) => inc.alert_count >= 15).map((inc) => inc.id));
  assert.equal(big.size, 2);
  const others = queue.filter((inc) => !big.has(inc.id));
  assert.ok(others.length >= 2, `other incidents: ${others.length}`);
  const rules = new Set(others.flatMap((inc) => inc.alerts.map((x) => x.rule)));
  for (const r of ['k8s.privileged_pod', 'k8s.anonymous_request', 'Terminal shell in container']) {
    assert.ok(rules.has(r), `no smaller incident has ${r}: ${[...rules]}`);
  }
  const priv = others.find((inc) => has(inc, (x) => x.rule === 'k8s.privileged_pod'));
  assert.deepEqual(priv.clusters, ['dev-gke']);
  const anon = others.find((inc) => has(inc, (x) => x.rule === 'k8s.anonymous_request'));
  assert.deepEqual(anon.clusters, ['payments-eks']);
  assert.notEqual(priv.id, anon.id);

  const info = queue.flatMap((inc) => inc.alerts).filter((x) => x.severity === 'informational');
  assert.ok(info.length >= 3, `informational alerts: ${info.length}`);
  assert.ok(info.some((x) => x.provider === 'falco'));
  assert.ok(queue.some((inc) => inc.severity === 'informational'));
  // Falco's Notice priority is low.
  assert.ok(queue.some((inc) => has(inc, (x) => x.provider === 'falco' && x.severity === 'low')));
});

test('an attack path: the internet-exposed web pod with high-severity vulnerabilities uses a managed identity to reach a protected storage account', async () => {
  const POD = 'pod:prod-aks/storefront/web-7f9c6d8b5-x2kqp';
  const STORAGE = 'cloud-resource:azure/subscriptions/6f1d2c3b-4a5e-4f60-8b71-9c0d1e2f3a4b/resourceGroups/acme-prod/providers/Microsoft.Storage/storageAccounts/acmeprodorders';
  const page = await getJson(srv.url, tok, `/api/v1/attack-paths?entry=${encodeURIComponent(POD)}`);
  const p = page.items.find((x) => x.target.key === STORAGE);
  assert.ok(p, `paths from ${POD}: ${page.items.map((x) => x.title)}`);
  assert.equal(p.risk, 'critical');
  assert.deepEqual(p.steps.map((s) => [s.entity.kind, s.edge?.kind ?? null]),
    [['pod', null], ['identity', 'uses-identity'], ['cloud-resource', 'can-access']]);
  const [entry, identity, storage] = p.steps;
  const codes = entry.risk_factors.map((f) => f.code);
  assert.ok(codes.includes('internet-exposed') && codes.includes('vulnerable-image'), codes.join(' '));
  assert.match(entry.risk_factors.find((f) => f.code === 'vulnerable-image').text, /high-severity vulnerabilities \(CVE-/);
  assert.match(entry.remediation, /Remove the public IP/);
  assert.match(entry.remediation, /Patch the image: 0 critical, \d+ high vulnerabilities/);
  assert.equal(identity.entity.label, 'managed identity');
  assert.equal(storage.entity.critical, true);
  assert.ok(storage.risk_factors.some((f) => f.code === 'critical-asset'));
  assert.match(storage.remediation, /Scope the managed identity's role assignment/);
  // The pod of the multi-stage incident carries the path (the graph's badge).
  const inc = queue.find((i) => i.entities.some((e) => e.key === POD) && i.high_impact);
  const podId = inc.entities.find((e) => e.key === POD).id;
  const through = await getJson(srv.url, tok, `/api/v1/attack-paths?entity=${podId}`);
  assert.ok(through.items.some((x) => x.id === p.id));
  const pane = await getJson(srv.url, tok, `/api/v1/entities/${podId}`);
  assert.ok(pane.vulnerabilities.counts.high > 0);
  assert.ok(pane.attack_paths.items.some((x) => x.id === p.id));
});

test('running the loader a second time stores nothing new', async () => {
  const count = (sql) => Number(sqlite(srv.dbPath, `.timeout 5000\n${sql}`));
  const before = {
    ids: queue.map((inc) => inc.id).sort(),
    alerts: queue.reduce((n, inc) => n + inc.alert_count, 0),
    tokens: count('SELECT count(*) FROM api_tokens;'),
    critical: count('SELECT count(*) FROM entities WHERE critical = 1;'),
    paths: sqlite(srv.dbPath, '.timeout 5000\nSELECT group_concat(id) FROM (SELECT id FROM attack_paths ORDER BY id);'),
  };
  const again = await runLoader();
  assert.equal(again.code, 0, `second demo-load.sh failed:\n${again.stderr}`);
  assert.match(again.stdout, /\(0 new, \d+ already loaded\), 0 new incidents;/);
  const now = await allIncidents(srv.url, tok);
  assert.deepEqual(now.map((inc) => inc.id).sort(), before.ids);
  assert.equal(now.reduce((n, inc) => n + inc.alert_count, 0), before.alerts);
  assert.equal(count('SELECT count(*) FROM api_tokens;'), before.tokens, 'no second token');
  assert.equal(count('SELECT count(*) FROM entities WHERE critical = 1;'), before.critical);
  assert.equal(sqlite(srv.dbPath, '.timeout 5000\nSELECT group_concat(id) FROM (SELECT id FROM attack_paths ORDER BY id);'),
    before.paths, 'the same attack paths, with the same ids');
  const a = now.find((inc) => inc.high_impact);
  assert.ok(a, 'the critical-asset incident keeps its high impact');
});
