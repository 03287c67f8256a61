// Ingestion of the real samples in shared/samples/: every Falco file (JSON,
// NDJSON, the same NDJSON as a JSON array, NDJSON under the content types
// Falco and falcosidekick use), every Kubernetes audit body; what is stored
// (alerts, CloudProcessEvents, CloudAuditEvents) with concrete values from
// the files; the detection rules; idempotency; cluster-bound tokens.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, makeTempDir, sqlite, SAMPLES_DIR } from './lib/server.mjs';
import { request, cliToken, assertError } from './lib/auth.mjs';
import { T0, alert, pod } from './lib/incidents.mjs';

assert.ok(SAMPLES_DIR, 'STOCKADE_SAMPLES_DIR must be set');
const FALCO = path.join(SAMPLES_DIR, 'falco');
const AUDIT = path.join(SAMPLES_DIR, 'k8s-audit');
const read = (dir, f) => fs.readFileSync(path.join(dir, f), 'utf8');
const lines = (text) => text.split('\n').filter((l) => l.trim() !== '');

// Severity, provider and tactic as the database stores them (server/alert.h).
const SEV = { informational: 0, low: 1, medium: 2, high: 3 };
const PROV = { falco: 0, 'k8s-audit': 1, 'stockade-rules': 2, api: 3 };
const TACTIC = {
  none: 0, initial_access: 1, execution: 2, persistence: 3, privilege_escalation: 4,
  defense_evasion: 5, credential_access: 6, discovery: 7, lateral_movement: 8, collection: 9,
  command_and_control: 10, exfiltration: 11, impact: 12,
};

let srv; // NDJSON and single objects
let arr; // the same NDJSON files as JSON arrays
let tok;
let arrTok;

before(async () => {
  const dir = makeTempDir('stockade-formats-');
  tok = await cliToken(`${dir}/stockade.db`, 'formats', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });
  const dir2 = makeTempDir('stockade-formats-arr-');
  arrTok = await cliToken(`${dir2}/stockade.db`, 'formats-arr', ['alerts:manage']);
  arr = await startServer({ dir: dir2 });
});

const sqj = (s, sql) => sqlite(s.dbPath, `.timeout 5000\n${sql}`, { json: true });
const count = (s, table, where = '1') => Number(sqlite(s.dbPath, `.timeout 5000\nSELECT count(*) FROM ${table} WHERE ${where};`));

function post(s, token, target, body, contentType = 'application/json') {
  return request(s.url, 'POST', target, { bearer: token, body, headers: { 'Content-Type': contentType } });
}

async function mustIngest(s, token, target, body, contentType) {
  const r = await post(s, token, target, body, contentType);
  assert.equal(r.status, 200, `${target}: ${r.text}`);
  return r.json;
}

/** Stored alerts with `title`, as [{provider, rule, severity, tactic, technique, cluster, description, evidence}]. */
function alertsTitled(s, title) {
  return sqj(s, `SELECT provider, rule, title, severity, tactic, technique, cluster, description, evidence,
    first_ts FROM alerts WHERE title = '${title.replaceAll("'", "''")}' ORDER BY first_ts, id;`)
    .map((r) => ({ ...r, evidence: JSON.parse(r.evidence) }));
}

/** The entity keys of stored alert rows matching `where`. */
function entityKeys(s, where) {
  return sqj(s, `SELECT e.key FROM alerts a JOIN alert_entities ae ON ae.alert_id = a.id
    JOIN entities e ON e.id = ae.entity_id WHERE ${where} ORDER BY e.key;`).map((r) => r.key);
}

test('the falcosidekick README payload (one object) becomes a high alert and a process row', async () => {
  const res = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', read(FALCO, 'falcosidekick-readme-payload.json'));
  assert.equal(res.alerts_new, 1);
  assert.equal(res.events, 1);
  const [a] = alertsTitled(srv, 'Write below binary dir');
  assert.equal(a.provider, PROV.falco);
  assert.equal(a.rule, 'Write below binary dir');
  assert.equal(a.severity, SEV.high); // Error
  assert.equal(a.tactic, TACTIC.none);
  assert.equal(a.cluster, 'lab');
  assert.equal(a.first_ts, Date.parse('2019-05-17T15:31:56.746Z'));
  // Falco's "HH:MM:SS.nnnnnnnnn: Priority " prefix is not part of the description.
  assert.equal(a.description, 'File below a known binary directory opened for writing (user=root command=touch /bin/hack file=/bin/hack)');
  assert.equal(a.evidence.process.cmdline, 'touch /bin/hack');
  assert.equal(a.evidence.file.name, '/bin/hack');
  assert.equal(a.evidence.falco.output_fields['evt.time'], 1507591916746609046);
  // A host event: no node, container or pod; just the cluster.
  assert.deepEqual(entityKeys(srv, "a.title = 'Write below binary dir'"), ['cluster:lab']);
  const rows = sqj(srv, "SELECT * FROM CloudProcessEvents WHERE ProcessCommandLine = 'touch /bin/hack';");
  assert.equal(rows.length, 1);
  assert.equal(rows[0].ClusterName, 'lab');
  assert.equal(rows[0].AccountName, 'root');
  assert.equal(rows[0].IsBinaryDrift, 0);
  assert.equal(rows[0].ContainerId, '');
  assert.equal(rows[0].Timestamp, Date.parse('2019-05-17T15:31:56.746Z'));
});

test('the cryptominer sample (pretty-printed) is an Impact alert with its process row', async () => {
  const res = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', read(FALCO, 'unverified-lab-custom-cryptominer-alert.json'));
  assert.equal(res.alerts_new, 1);
  const [a] = alertsTitled(srv, 'Possible cryptominer connecting to mining pool port');
  assert.equal(a.severity, SEV.high); // Critical
  // Tags T1496, mitre_command_and_control, mitre_impact: the technique's tactic wins.
  assert.equal(a.tactic, TACTIC.impact);
  assert.equal(a.technique, 'T1496');
  assert.equal(a.first_ts, Date.parse('2026-10-10T16:44:15.007Z'));
  assert.deepEqual(entityKeys(srv, "a.title LIKE 'Possible cryptominer%'"), [
    'cluster:lab', 'container:lab/03937e041ac2', 'image:alpine:3.20', 'node:lab/f17e8cccf11f', 'registry:docker.io',
  ]);
  const [row] = sqj(srv, "SELECT * FROM CloudProcessEvents WHERE ProcessName = 'nc';");
  assert.equal(row.ProcessCommandLine, 'nc -w 2 127.0.0.1 3333');
  assert.equal(row.FolderPath, '/bin');
  assert.equal(row.FileName, 'busybox');
  assert.equal(row.ContainerName, 'lab9-target');
  assert.equal(row.ContainerId, '03937e041ac2');
  assert.equal(row.ContainerImageName, 'alpine:3.20');
  assert.equal(row.KubernetesPodName, '');
  assert.equal(row.IsBinaryDrift, 0);
  // Unknown process ids are NULL (docs/ingestion.md says -1).
  assert.equal(row.ProcessId, null);
  assert.equal(row.ParentProcessId, null);
});

const LAB = 'unverified-lab-falco-0.43.1-alerts.jsonl';
const ELASTIC = 'elastic-integrations-falco-sample.jsonl';

test('the Falco 0.43.1 NDJSON: three alerts, binary drift, three process rows', async () => {
  const res = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', read(FALCO, LAB));
  assert.equal(res.alerts_new, 4, JSON.stringify(res));
  assert.equal(res.alerts, 4);

  const [shell] = alertsTitled(srv, 'Terminal shell in container');
  assert.equal(shell.severity, SEV.low); // Notice
  assert.equal(shell.tactic, TACTIC.execution);
  assert.equal(shell.technique, 'T1059');

  const [drop] = alertsTitled(srv, 'Drop and execute new binary in container');
  assert.equal(drop.provider, PROV.falco);
  assert.equal(drop.severity, SEV.high); // Critical
  assert.equal(drop.tactic, TACTIC.persistence); // TA0003 / mitre_persistence
  assert.equal(drop.evidence.process.exepath, '/usr/local/bin/fake-binary');
  assert.equal(drop.evidence.parent.name, 'containerd-shim');
  assert.deepEqual(drop.evidence.parent.ancestors, ['systemd']);
  // The unsigned 64-bit value jansson cannot hold as an integer survives as text.
  assert.equal(String(drop.evidence.falco.output_fields['proc.exe_ino.ctime_duration_proc_start']), '18446744073670260079');

  const [drift] = alertsTitled(srv, 'Binary drift detected');
  assert.equal(drift.provider, PROV['stockade-rules']);
  assert.equal(drift.rule, 'stockade.binary_drift');
  assert.equal(drift.severity, SEV.high);
  assert.equal(drift.tactic, TACTIC.execution);
  assert.equal(drift.first_ts, drop.first_ts);
  assert.equal(drift.description, '/usr/local/bin/fake-binary was not part of the image of container lab9-target (alpine:3.20)');
  assert.deepEqual(drift.evidence.drift, {
    executable: '/usr/local/bin/fake-binary', upper_layer: true, from_memfd: false,
    flags: 'EXE_WRITABLE|EXE_UPPER_LAYER', falco_rule: 'Drop and execute new binary in container',
  });

  const [tmp] = alertsTitled(srv, 'Write to /tmp by container');
  assert.equal(tmp.severity, SEV.medium); // Warning
  assert.equal(tmp.tactic, TACTIC.none);

  const rows = sqj(srv, "SELECT ProcessName, FolderPath, FileName, IsBinaryDrift, ContainerId, ParentProcessName FROM CloudProcessEvents WHERE ContainerId = '9965a6a599f6' ORDER BY Timestamp;");
  assert.deepEqual(rows.map((r) => [r.ProcessName, r.IsBinaryDrift]), [['sh', 0], ['', 0], ['fake-binary', 1]]);
  const fake = rows.find((r) => r.ProcessName === 'fake-binary');
  assert.equal(fake.FolderPath, '/usr/local/bin');
  assert.equal(fake.FileName, 'fake-binary');
  assert.equal(fake.ParentProcessName, 'containerd-shim');
  // The drift and the Falco alert share the container: one incident.
  const inc = sqj(srv, `SELECT DISTINCT incident_id FROM alerts WHERE title IN
    ('Binary drift detected', 'Drop and execute new binary in container', 'Terminal shell in container');`);
  assert.equal(inc.length, 1);
});

test('the Elastic NDJSON sample: 17 events, 14 distinct alerts, one pod', async () => {
  const text = read(FALCO, ELASTIC);
  assert.equal(lines(text).length, 17);
  assert.ok(!text.endsWith('\n'), 'the sample has no trailing newline');
  const res = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', text);
  assert.equal(res.alerts_new, 14, JSON.stringify(res));
  assert.equal(res.alerts_duplicate, 3);
  const sensitive = alertsTitled(srv, 'Read sensitive file untrusted');
  assert.equal(sensitive.length, 9);
  assert.ok(sensitive.every((a) => a.severity === SEV.medium && a.tactic === TACTIC.credential_access && a.technique === 'T1555'));
  const interactive = alertsTitled(srv, 'System user interactive');
  assert.equal(interactive.length, 2);
  assert.ok(interactive.every((a) => a.severity === SEV.informational && a.tactic === TACTIC.execution));
  const shells = alertsTitled(srv, 'Run shell untrusted');
  assert.deepEqual(shells.map((a) => [a.severity, a.tactic, a.technique]), [[SEV.low, TACTIC.execution, 'T1059.004'], [SEV.low, TACTIC.execution, 'T1059.004']]);
  // The line with k8s fields names its pod and namespace.
  const podKeys = entityKeys(srv, "a.first_ts = " + Date.parse('2024-05-13T13:23:31.089Z'));
  assert.ok(podKeys.includes('pod:lab/kubernetes-ns/kubernetes-pod-1'), podKeys.join());
  assert.ok(podKeys.includes('namespace:lab/kubernetes-ns'), podKeys.join());
  // The line with documentation addresses names them.
  const ipKeys = entityKeys(srv, "a.first_ts = " + Date.parse('2024-05-13T13:23:36.089Z'));
  assert.ok(ipKeys.includes('ip:67.43.156.0') && ipKeys.includes('ip:89.160.20.112'), ipKeys.join());
  assert.equal(count(srv, 'CloudProcessEvents', "ContainerId IN ('9656db3bb358', '84c0b936c919')"), 14);
  const [podRow] = sqj(srv, "SELECT * FROM CloudProcessEvents WHERE KubernetesPodName = 'kubernetes-pod-1';");
  assert.equal(podRow.KubernetesNamespace, 'kubernetes-ns');
  assert.equal(podRow.ProcessName, 'event-generator');
});

test('posting the same samples again stores nothing new', async () => {
  const procs = count(srv, 'CloudProcessEvents');
  const alerts = count(srv, 'alerts');
  for (const f of ['falcosidekick-readme-payload.json', 'unverified-lab-custom-cryptominer-alert.json', LAB, ELASTIC]) {
    const res = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', read(FALCO, f));
    assert.equal(res.alerts_new, 0, f);
    assert.equal(res.incidents_created, 0, f);
    assert.ok(res.alerts_duplicate > 0, f);
  }
  assert.equal(count(srv, 'CloudProcessEvents'), procs);
  assert.equal(count(srv, 'alerts'), alerts);
});

test('each NDJSON file posted as a JSON array stores the same alerts and rows', async () => {
  for (const f of [LAB, ELASTIC]) {
    const events = lines(read(FALCO, f));
    const body = `[${events.join(',\n')}]`;
    const res = await mustIngest(arr, arrTok, '/api/v1/ingest/falco?cluster=lab', body);
    assert.equal(res.alerts_new + res.alerts_duplicate, f === LAB ? 4 : 17, f);
  }
  const cols = 'provider, rule, title, severity, tactic, technique, cluster, description, first_ts';
  const where = "WHERE cluster = 'lab' AND provider IN (0, 2) AND title NOT IN ('Write below binary dir'," +
    " 'Possible cryptominer connecting to mining pool port') ORDER BY first_ts, title, description";
  const viaNdjson = sqj(srv, `SELECT ${cols} FROM alerts ${where};`);
  const viaArray = sqj(arr, `SELECT ${cols} FROM alerts ${where};`);
  assert.equal(viaArray.length, 18);
  assert.deepEqual(viaArray, viaNdjson);
  const pcols = 'Timestamp, ClusterName, ContainerId, ProcessName, ProcessCommandLine, FolderPath, FileName, IsBinaryDrift';
  assert.deepEqual(sqj(arr, `SELECT ${pcols} FROM CloudProcessEvents ORDER BY 1, 4, 5;`),
    sqj(srv, `SELECT ${pcols} FROM CloudProcessEvents WHERE ContainerId IN ('9965a6a599f6', '9656db3bb358', '84c0b936c919') ORDER BY 1, 4, 5;`));
});

test('the reply counts the events received, apart from the alerts they gave', async () => {
  // Three Falco events give four alerts (one drift); the same three as an array.
  const ndjson = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', read(FALCO, LAB));
  assert.deepEqual([ndjson.events, ndjson.alerts], [3, 4]);
  const asArray = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=lab', `[${lines(read(FALCO, LAB)).join(',')}]`);
  assert.deepEqual([asArray.events, asArray.alerts], [3, 4]);
  // Audit: five events, no alert.
  const list = lines(read(AUDIT, 'unverified-secret-create-get-patch.jsonl')).map((l) => JSON.parse(l));
  const audit = await mustIngest(srv, tok, '/api/v1/ingest/k8s-audit?cluster=counting',
    { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: list });
  assert.deepEqual([audit.events, audit.alerts], [5, 0]);
});

test('NDJSON is accepted as application/x-ndjson, text/plain and without a charset', async () => {
  const mk = (n) => JSON.stringify({
    time: new Date(T0 + n * 1000).toISOString(), rule: `Content type probe ${n}`, priority: 'Notice',
    output: `probe ${n}`, hostname: 'h1', output_fields: { 'proc.name': 'sh', 'proc.cmdline': `sh -c ${n}` },
  });
  const types = ['application/x-ndjson', 'text/plain', 'text/plain; charset=utf-8', 'application/json; charset=utf-8'];
  for (let i = 0; i < types.length; i++) {
    const body = `${mk(2 * i)}\n${mk(2 * i + 1)}\n`;
    const res = await mustIngest(srv, tok, '/api/v1/ingest/falco?cluster=ctype', body, types[i]);
    assert.equal(res.alerts_new, 2, types[i]);
  }
  assert.equal(count(srv, 'alerts', "cluster = 'ctype'"), 8);
  assert.equal(count(srv, 'CloudProcessEvents', "ClusterName = 'ctype'"), 8);
});

test('every audit sample is stored; the cluster-admin binding and the exec raise alerts', async () => {
  const bodies = [
    ['falco-trace-attach_cluster_admin_role.json', [read(AUDIT, 'falco-trace-attach_cluster_admin_role.json')]],
    ['falco-trace-create_kube_system_secret.json', [read(AUDIT, 'falco-trace-create_kube_system_secret.json')]],
    ['falco-trace-exec_pod.json', [read(AUDIT, 'falco-trace-exec_pod.json')]],
    ['unverified-eventlist-webhook-pod-create.jsonl', lines(read(AUDIT, 'unverified-eventlist-webhook-pod-create.jsonl'))],
    ['unverified-secret-create-get-patch.jsonl', lines(read(AUDIT, 'unverified-secret-create-get-patch.jsonl'))],
  ];
  const got = {};
  for (const [f, list] of bodies) {
    got[f] = 0;
    for (const body of list) {
      const res = await mustIngest(srv, tok, '/api/v1/ingest/k8s-audit?cluster=lab', body);
      assert.equal(res.events, 1, f);
      got[f] += res.alerts_new;
    }
  }
  assert.deepEqual(got, {
    'falco-trace-attach_cluster_admin_role.json': 1,
    'falco-trace-create_kube_system_secret.json': 0,
    'falco-trace-exec_pod.json': 1,
    'unverified-eventlist-webhook-pod-create.jsonl': 0,
    'unverified-secret-create-get-patch.jsonl': 0,
  });
  assert.equal(count(srv, 'CloudAuditEvents', "ClusterName = 'lab'"), 10);

  const [bind] = alertsTitled(srv, 'Cluster-admin role binding created');
  assert.equal(bind.provider, PROV['k8s-audit']);
  assert.equal(bind.rule, 'k8s.cluster_admin_binding');
  assert.equal(bind.severity, SEV.high);
  assert.equal(bind.tactic, TACTIC.privilege_escalation);
  assert.equal(bind.technique, 'T1098');
  assert.equal(bind.first_ts, Date.parse('2018-10-26T14:26:34.242Z'));
  assert.match(bind.description, /^minikube-user created ClusterRoleBinding some-reader-binding granting the cluster-admin ClusterRole to User/);
  assert.deepEqual(entityKeys(srv, "a.title = 'Cluster-admin role binding created'"),
    ['cluster:lab', 'identity:lab/minikube', 'identity:lab/minikube-user', 'ip:192.168.99.1']);
  assert.deepEqual(bind.evidence.object.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' });

  const [exec] = alertsTitled(srv, 'Command executed in a pod through the API');
  assert.equal(exec.rule, 'k8s.pod_exec');
  assert.equal(exec.severity, SEV.medium);
  assert.equal(exec.tactic, TACTIC.execution);
  assert.equal(exec.technique, 'T1609');
  assert.equal(exec.description, 'minikube-user ran "bash" in pod default/nginx-deployment-7998647bdf-phvq7 (container nginx1)');
  assert.deepEqual(exec.evidence.exec, { command: 'bash', container: 'nginx1' });
  assert.ok(entityKeys(srv, "a.rule = 'k8s.pod_exec'").includes('pod:lab/default/nginx-deployment-7998647bdf-phvq7'));

  const rows = sqj(srv, `SELECT OperationName, Verb, ResourceKind, ResourceNamespace, ResourceName, UserName,
    UserGroups, SourceIPs, UserAgent, ResponseCode, Timestamp FROM CloudAuditEvents WHERE ClusterName = 'lab'
    ORDER BY Timestamp, id;`);
  const execRow = rows.find((r) => r.OperationName === 'create pods/exec');
  assert.deepEqual(execRow, {
    OperationName: 'create pods/exec', Verb: 'create', ResourceKind: 'pods/exec', ResourceNamespace: 'default',
    ResourceName: 'nginx-deployment-7998647bdf-phvq7', UserName: 'minikube-user',
    UserGroups: '["system:masters","system:authenticated"]', SourceIPs: '["192.168.99.1"]', UserAgent: '',
    ResponseCode: 101, Timestamp: Date.parse('2018-10-26T13:38:34.902Z'),
  });
  assert.deepEqual(rows.filter((r) => r.ResourceName === 'very-secure').map((r) => [r.Verb, r.ResponseCode]),
    [['create', 201], ['get', null], ['get', 200], ['patch', null], ['patch', 200]]);
  assert.ok(rows.some((r) => r.OperationName === 'create clusterrolebindings' && r.ResponseCode === 201));
  assert.ok(rows.some((r) => r.OperationName === 'create secrets' && r.ResourceNamespace === 'kube-system'));
  assert.equal(rows.filter((r) => r.OperationName === 'create pods').length, 2);
  const [raw] = sqj(srv, "SELECT RawEventData FROM CloudAuditEvents WHERE ResourceName = 'webhook-audit';");
  assert.equal(JSON.parse(raw.RawEventData).responseObject.metadata.uid, '8006453e-d338-4cb2-b16b-d619b28e2583');
});

test('audit samples posted again store nothing new', async () => {
  const rows = count(srv, 'CloudAuditEvents');
  const alerts = count(srv, 'alerts');
  for (const f of ['falco-trace-attach_cluster_admin_role.json', 'falco-trace-exec_pod.json']) {
    const res = await mustIngest(srv, tok, '/api/v1/ingest/k8s-audit?cluster=lab', read(AUDIT, f));
    assert.equal(res.alerts_new, 0, f);
    assert.equal(res.alerts_duplicate, 1, f);
  }
  for (const body of lines(read(AUDIT, 'unverified-secret-create-get-patch.jsonl'))) {
    await mustIngest(srv, tok, '/api/v1/ingest/k8s-audit?cluster=lab', body);
  }
  assert.equal(count(srv, 'CloudAuditEvents'), rows);
  assert.equal(count(srv, 'alerts'), alerts);
});

test('both stages of one exec in one EventList give one alert and two rows', async () => {
  const ev = JSON.parse(read(AUDIT, 'falco-trace-exec_pod.json'));
  const started = { ...ev, auditID: 'stages-1' };
  const done = { ...started, stage: 'ResponseComplete', stageTimestamp: '2018-10-26T13:40:00.000000Z' };
  const res = await mustIngest(srv, tok, '/api/v1/ingest/k8s-audit?cluster=stages',
    { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [started, done] });
  assert.equal(res.events, 2);
  assert.equal(res.alerts_new, 1);
  assert.equal(count(srv, 'CloudAuditEvents', "ClusterName = 'stages'"), 2);
});

test('a request from an anonymising proxy raises an alert', async () => {
  const dir = makeTempDir('stockade-proxy-');
  const ptok = await cliToken(`${dir}/stockade.db`, 'proxy', ['alerts:manage']);
  const p = await startServer({ dir, args: ['--anon-proxies', '198.51.100.0/24'] });
  const event = (id, ipAddr) => ({
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: id, stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods', verb: 'list',
    user: { username: 'dev-1', groups: ['system:authenticated'] }, sourceIPs: [ipAddr],
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' }, responseStatus: { code: 200 },
    requestReceivedTimestamp: new Date(T0).toISOString(), stageTimestamp: new Date(T0 + 5).toISOString(),
  });
  let res = await mustIngest(p, ptok, '/api/v1/ingest/k8s-audit?cluster=edge', event('px-1', '198.51.100.7'));
  assert.equal(res.alerts_new, 1);
  res = await mustIngest(p, ptok, '/api/v1/ingest/k8s-audit?cluster=edge', event('px-2', '203.0.113.7'));
  assert.equal(res.alerts_new, 0);
  res = await mustIngest(p, ptok, '/api/v1/ingest/k8s-audit?cluster=edge', event('px-3', '::ffff:198.51.100.8'));
  assert.equal(res.alerts_new, 1, 'an IPv4-mapped IPv6 address is in the IPv4 range');
  const found = alertsTitled(p, 'Kubernetes API request from an anonymising proxy');
  assert.equal(found.length, 2);
  assert.equal(found[0].rule, 'k8s.anonymising_proxy');
  assert.equal(found[0].severity, SEV.high);
  assert.equal(found[0].tactic, TACTIC.initial_access);
  assert.equal(found[0].technique, 'T1090.003');
  assert.equal(found[0].description, 'dev-1 sent "list pods" from 198.51.100.7, an address listed as an anonymising proxy');
  const [ent] = sqj(p, "SELECT props FROM entities WHERE key = 'ip:198.51.100.7';");
  assert.deepEqual(JSON.parse(ent.props), { anonymising_proxy: true });
  // Without the option nothing is flagged.
  res = await mustIngest(srv, tok, '/api/v1/ingest/k8s-audit?cluster=edge', event('px-4', '198.51.100.9'));
  assert.equal(res.alerts_new, 0);
  assert.equal(await p.stop(), 0);
});

test('a token bound to a cluster puts events in that cluster and refuses any other', async () => {
  const dir = makeTempDir('stockade-bound-');
  const btok = await cliToken(`${dir}/stockade.db`, 'bound-falco', ['alerts:manage'], { cluster: 'bound' });
  const b = await startServer({ dir });
  const falco = read(FALCO, 'unverified-lab-custom-cryptominer-alert.json');
  let res = await mustIngest(b, btok, '/api/v1/ingest/falco', falco);
  assert.equal(res.alerts_new, 1);
  assert.deepEqual(sqj(b, 'SELECT DISTINCT cluster FROM alerts;'), [{ cluster: 'bound' }]);
  assert.deepEqual(sqj(b, 'SELECT DISTINCT ClusterName FROM CloudProcessEvents;'), [{ ClusterName: 'bound' }]);
  assert.ok(entityKeys(b, '1').includes('container:bound/03937e041ac2'));
  // Naming its own cluster is fine.
  res = await mustIngest(b, btok, '/api/v1/ingest/k8s-audit?cluster=bound', read(AUDIT, 'falco-trace-exec_pod.json'));
  assert.equal(res.alerts_new, 1);
  assert.deepEqual(sqj(b, 'SELECT DISTINCT ClusterName FROM CloudAuditEvents;'), [{ ClusterName: 'bound' }]);
  const before = count(b, 'alerts');
  for (const [target, body] of [
    ['/api/v1/ingest/falco?cluster=other', read(FALCO, 'falcosidekick-readme-payload.json')],
    ['/api/v1/ingest/k8s-audit?cluster=other', read(AUDIT, 'falco-trace-attach_cluster_admin_role.json')],
    ['/api/v1/alerts?cluster=other', alert('bound-1', { clusterName: 'bound', entities: [pod('bound', 'n', 'p')] })],
  ]) {
    const r = await post(b, btok, target, typeof body === 'string' ? body : JSON.stringify(body));
    assertError(r, 403, 'forbidden', /bound to another cluster/, target);
  }
  assert.equal(count(b, 'alerts'), before);
  assert.equal(await b.stop(), 0);
});

test('a bound token cannot name another cluster inside Stockade alert JSON', async () => {
  const dir = makeTempDir('stockade-bound2-');
  const btok = await cliToken(`${dir}/stockade.db`, 'bound-api', ['alerts:manage'], { cluster: 'bound' });
  const b = await startServer({ dir });
  const r = await post(b, btok, '/api/v1/alerts', JSON.stringify(alert('escape-1', { clusterName: 'prod', entities: [pod('prod', 'kube-system', 'coredns')] })));
  // Either refused, or kept in the token's cluster: never stored as prod's.
  if (r.status === 200) {
    assert.deepEqual(sqj(b, 'SELECT DISTINCT cluster FROM alerts;'), [{ cluster: 'bound' }]);
  } else {
    assertError(r, 403, 'forbidden', /cluster/);
  }
  assert.equal(count(b, 'alerts', "cluster = 'prod'"), 0);
  assert.equal(await b.stop(), 0);
});

test('ingestion needs Alerts: Manage, and a bad ?cluster= is refused', async () => {
  const dir = makeTempDir('stockade-ingest-perm-');
  const rtok = await cliToken(`${dir}/stockade.db`, 'reader', ['alerts:read']);
  const s = await startServer({ dir });
  for (const target of ['/api/v1/ingest/falco', '/api/v1/ingest/k8s-audit', '/api/v1/alerts']) {
    assertError(await post(s, rtok, target, '{}'), 403, 'forbidden', 'Requires Alerts: Manage', target);
    assertError(await request(s.url, 'POST', target, { body: '{}' }), 401, 'unauthorized', undefined, target);
  }
  for (const bad of ['a/b', 'a b', '', 'x'.repeat(64), 'é']) {
    const r = await post(srv, tok, `/api/v1/ingest/falco?cluster=${encodeURIComponent(bad)}`, read(FALCO, 'falcosidekick-readme-payload.json'));
    assertError(r, 400, 'invalid_request', /^cluster:/, `cluster=${bad}`);
  }
  assert.equal(await s.stop(), 0);
});
