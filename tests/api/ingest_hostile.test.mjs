// Hostile input on the three ingestion endpoints (Falco, Kubernetes audit,
// Stockade alerts): deep nesting, huge strings and bodies, invalid UTF-8,
// wrong types for every field, out-of-range times, huge batches, empty
// bodies, trailing garbage, duplicate keys, one bad element in a batch.
// Every refusal is a 4xx with a message and stores nothing (row counts are
// compared before and after); the server stays up and exits cleanly.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startServer, makeTempDir, sqlite } from './lib/server.mjs';
import { request, cliToken, assertError } from './lib/auth.mjs';
import { T0, iso, alert, pod } from './lib/incidents.mjs';

const FALCO = '/api/v1/ingest/falco?cluster=h';
const AUDIT = '/api/v1/ingest/k8s-audit?cluster=h';
const ALERTS = '/api/v1/alerts?cluster=h';
const ENDPOINTS = [FALCO, AUDIT, ALERTS];
const MB = 1024 * 1024;

let srv;
let tok;

before(async () => {
  const dir = makeTempDir('stockade-hostile-');
  tok = await cliToken(`${dir}/stockade.db`, 'hostile', ['alerts:read', 'alerts:manage']);
  srv = await startServer({ dir });
});

const TABLES = ['alerts', 'incidents', 'entities', 'CloudProcessEvents', 'CloudAuditEvents', 'behaviour_seen'];

/** Row counts of every table ingestion writes. */
function snapshot() {
  const sql = TABLES.map((t) => `SELECT '${t}', count(*) FROM ${t};`).join('\n');
  const out = sqlite(srv.dbPath, `.timeout 5000\n.mode list\n${sql}`);
  return Object.fromEntries(out.split('\n').map((l) => l.split('|')).map(([k, v]) => [k, Number(v)]));
}

function post(target, body, { contentType = 'application/json', timeoutMs } = {}) {
  return request(srv.url, 'POST', target, { bearer: tok, body, headers: { 'Content-Type': contentType }, timeoutMs });
}

/** Asserts `target` refuses `body` with `status`, a message matching `re`,
 *  and `index` (undefined: not checked; null: absent). Every test wraps its
 *  refusals in unchanged(), which compares the row counts around them. */
async function refused(target, body, { status = 400, re, index, what = '' } = {}) {
  const r = await post(target, body);
  const ctx = `${target} ${what}`;
  assert.ok(r.status < 500, `${ctx}: ${r.status} ${r.text.slice(0, 300)}`);
  const code = status === 413 ? 'too_large' : 'invalid_request';
  assertError(r, status, code, re, ctx);
  if (index === null) assert.ok(!('index' in r.json.error), `${ctx}: unexpected index in ${r.text}`);
  else if (index !== undefined) assert.equal(r.json.error.index, index, `${ctx}: ${r.text}`);
  return r;
}

/** Runs `fn` and asserts that no table ingestion writes gained or lost rows. */
async function unchanged(fn) {
  const before = snapshot();
  await fn();
  assert.deepEqual(snapshot(), before, 'a refused request stored something');
}

// ---- valid bases, each mutated below ----

const validAlert = (id) => alert(id, { clusterName: 'h', entities: [pod('h', 'n', `p-${id}`)] });

const validFalco = (n) => ({
  time: iso(T0 + n * 1000),
  rule: 'Hostile base',
  priority: 'Warning',
  output: `base event ${n}`,
  source: 'syscall',
  hostname: 'node-h',
  tags: ['T1059', 'mitre_execution'],
  output_fields: { 'proc.name': 'sh', 'proc.cmdline': `sh -c ${n}`, 'proc.pid': 100 + n, 'container.id': 'abcdef123456', 'k8s.pod.name': 'web', 'k8s.ns.name': 'n' },
});

const validAudit = (n) => ({
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Metadata',
  auditID: `hostile-${n}`,
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/n/pods/web/exec?command=sh',
  verb: 'create',
  user: { username: 'eve', groups: ['system:authenticated'] },
  sourceIPs: ['203.0.113.9'],
  objectRef: { resource: 'pods', subresource: 'exec', namespace: 'n', name: 'web', apiVersion: 'v1' },
  responseStatus: { code: 101 },
  requestReceivedTimestamp: iso(T0 + n * 1000),
  stageTimestamp: iso(T0 + n * 1000 + 5),
});

const eventList = (items) => ({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });

const js = (v) => JSON.stringify(v);

test('the valid bases are accepted', async () => {
  let r = await post(ALERTS, js([validAlert('base-1'), validAlert('base-2')]));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.alerts_new, 2);
  r = await post(FALCO, js(validFalco(0)));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.alerts_new, 1);
  r = await post(AUDIT, js(eventList([validAudit(0)])));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.alerts_new, 1);
  const s = snapshot();
  assert.equal(s.alerts, 4);
  assert.equal(s.CloudProcessEvents, 1);
  assert.equal(s.CloudAuditEvents, 1);
});

test('deep nesting is refused before parsing', async () => {
  await unchanged(async () => {
    const deep = '['.repeat(100000);
    const deepObj = '{"a":'.repeat(100000);
    for (const target of ENDPOINTS) {
      await refused(target, deep, { re: /nesting deeper than 64 levels/, what: '[ x 100000' });
      await refused(target, deepObj, { re: /nesting deeper than 64 levels/, what: '{"a": x 100000' });
      await refused(target, `${deep}${']'.repeat(100000)}`, { re: /nesting deeper than 64 levels/, what: 'balanced' });
    }
    // Inside an otherwise valid element.
    const nested = (n) => (n === 0 ? 1 : { a: nested(n - 1) });
    await refused(ALERTS, js({ ...validAlert('deep-1'), evidence: nested(70) }), { re: /nesting/ });
    await refused(FALCO, js({ ...validFalco(1), output_fields: { ...validFalco(1).output_fields, x: nested(70) } }), { re: /nesting/ });
    await refused(AUDIT, js({ ...validAudit(1), requestObject: nested(70) }), { re: /nesting/ });
  });
});

test('64 levels of nesting are accepted, 65 are not', async () => {
  const nested = (n) => (n === 0 ? 1 : { a: nested(n - 1) });
  // The alert object is level 1 and evidence level 2.
  const r = await post(ALERTS, js({ ...validAlert('depth-64'), evidence: nested(63) }));
  assert.equal(r.status, 200, r.text);
  await unchanged(() => refused(ALERTS, js({ ...validAlert('depth-65'), evidence: nested(64) }), { re: /nesting deeper than 64/ }));
});

test('a body over the 8 MiB limit is 413 on every endpoint, with a message', async () => {
  await unchanged(async () => {
    for (const target of ENDPOINTS) {
      const body = js({ ...validAlert('huge'), title: 'x'.repeat(10 * MB) });
      const r = await refused(target, body, { status: 413, re: /limit/, what: '10 MB' });
      assert.match(r.json.error.message, /8388608|8 ?Mi?B/);
    }
  });
});

/** POSTs `size` bytes with chunked transfer encoding (no Content-Length). */
function postChunked(target, size) {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url);
    const req = http.request({
      host: u.hostname, port: Number(u.port), method: 'POST', path: target, agent: false,
      headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.setTimeout(30000, () => req.destroy(new Error('chunked POST timed out')));
    req.on('error', (e) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve({ status: 0, text: e.code }) : reject(e)));
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    req.write('{"rule":"');
    let left = size;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(chunk.subarray(0, n))) { req.once('drain', pump); return; }
      }
      req.end('"}');
    };
    pump();
  });
}

test('a chunked body over the limit is 413 too', async () => {
  const before = snapshot();
  const r = await postChunked(FALCO, 10 * MB);
  assert.equal(r.status, 413, r.text.slice(0, 300));
  assert.match(r.text, /too_large/);
  assert.deepEqual(snapshot(), before);
});

test('a 7 MB string just under the body limit is refused by the field limits, not a 5xx', async () => {
  await unchanged(async () => {
    const big = 'y'.repeat(7 * MB);
    await refused(ALERTS, js({ ...validAlert('big-1'), title: big }), { re: /^element 0: title: 7340032 bytes exceeds the limit of 255$/, index: 0 });
    // One byte over the other limits.
    await refused(ALERTS, js({ ...validAlert('big-2'), description: 'd'.repeat(65536) }), { re: /^element 0: description: 65536 bytes exceeds the limit of 65535$/, index: 0 });
    await refused(ALERTS, js({ ...validAlert('big-3'), id: 'i'.repeat(201) }), { re: /^element 0: id: 201 bytes exceeds the limit of 200$/, index: 0 });
    await refused(FALCO, js({ ...validFalco(2), output: big }), { re: /^element 0: output: .*exceeds the limit of 65535$/, index: 0 });
    await refused(FALCO, js({ ...validFalco(2), output_fields: { ...validFalco(2).output_fields, 'proc.cmdline': 'c'.repeat(65536) } }), { re: /output_fields\.proc\.cmdline: 65536 bytes exceeds the limit of 65535/, index: 0 });
    await refused(FALCO, js({ ...validFalco(2), output_fields: { 'custom.field': big } }), { re: /output_fields\.custom\.field: .*exceeds the limit/, index: 0 });
    await refused(AUDIT, js({ ...validAudit(2), requestURI: big }), { re: /^element 0: requestURI: .*exceeds the limit/, index: 0 });
  });
});

test('a 7 MB blob where any JSON is allowed is stored whole or refused, never cut', async () => {
  const big = 'z'.repeat(7 * MB);
  const r = await post(ALERTS, js({ ...validAlert('blob-1'), evidence: { ext: 'blob-1', blob: big } }), { timeoutMs: 60000 });
  assert.ok(r.status === 200 || r.status === 400 || r.status === 413, `${r.status} ${r.text.slice(0, 200)}`);
  if (r.status === 200) {
    const len = Number(sqlite(srv.dbPath, ".timeout 5000\nSELECT length(json_extract(evidence, '$.blob')) FROM alerts WHERE json_extract(evidence, '$.ext') = 'blob-1';"));
    assert.equal(len, 7 * MB);
  }
  const a = await post(AUDIT, js({ ...validAudit(3), requestObject: { blob: big } }), { timeoutMs: 60000 });
  assert.ok(a.status === 200 || a.status === 400 || a.status === 413, `${a.status} ${a.text.slice(0, 200)}`);
  if (a.status === 200) {
    const len = Number(sqlite(srv.dbPath, ".timeout 5000\nSELECT length(RawEventData) FROM CloudAuditEvents WHERE RawEventData LIKE '%\"hostile-3\"%';"));
    assert.ok(len > 7 * MB, `RawEventData of ${len} bytes`);
  }
});

test('invalid UTF-8, NUL escapes and lone surrogates are refused', async () => {
  await unchanged(async () => {
    const bad = [
      ['0xff byte', (s) => Buffer.concat([Buffer.from(s.slice(0, s.indexOf('REPLACE'))), Buffer.from([0xff, 0xfe]), Buffer.from(s.slice(s.indexOf('REPLACE') + 7))])],
      ['overlong /', (s) => Buffer.concat([Buffer.from(s.slice(0, s.indexOf('REPLACE'))), Buffer.from([0xc0, 0xaf]), Buffer.from(s.slice(s.indexOf('REPLACE') + 7))])],
      ['truncated sequence', (s) => Buffer.concat([Buffer.from(s.slice(0, s.indexOf('REPLACE'))), Buffer.from([0xe2, 0x82]), Buffer.from(s.slice(s.indexOf('REPLACE') + 7))])],
      ['\\u0000', (s) => s.replace('REPLACE', '\\u0000')],
      ['lone surrogate', (s) => s.replace('REPLACE', '\\ud800')],
    ];
    const bases = [
      [ALERTS, js({ ...validAlert('utf-1'), title: 'REPLACE' })],
      [FALCO, js({ ...validFalco(4), output: 'REPLACE' })],
      [AUDIT, js({ ...validAudit(4), userAgent: 'REPLACE' })],
    ];
    for (const [target, base] of bases) {
      for (const [what, mk] of bad) {
        await refused(target, mk(base), { what });
      }
    }
  });
});

const WRONG = [42, 4.5, true, [], {}, ['x']];

test('every field of the Stockade alert JSON is type-checked', async () => {
  await unchanged(async () => {
    const cases = [
      ['id', [...WRONG, ''], 'id'],
      ['title', [...WRONG, ''], 'title'],
      ['severity', [...WRONG, 'High', 'critical', ''], 'severity'],
      ['provider', [...WRONG, 'falco', 'k8s-audit', 'API'], 'provider'],
      ['rule', [...WRONG, ''], 'rule'],
      ['description', WRONG, 'description'],
      ['tactic', [...WRONG, 'Execution', 'TA0002', 'mitre_execution', ''], 'tactic'],
      ['technique', [...WRONG, 'T12', 't1059', 'T1059.1', 'T1059.0001', 'TA0002'], 'technique'],
      ['first_activity', [...WRONG, '', '2026-10-01', 'yesterday', '2026-10-01 08:00:00Z', '2026-02-30T00:00:00Z'], 'first_activity'],
      ['last_activity', [...WRONG, 'soon', iso(T0 - 1000)], 'last_activity'],
      ['cluster', WRONG, 'cluster'],
      ['entities', [42, 'pod', {}, true, [1], ['pod'], [[]]], 'entities'],
      ['evidence', [42, 'x', [], true, ['a']], 'evidence'],
    ];
    for (const [field, values, name] of cases) {
      for (const v of values) {
        await refused(ALERTS, js({ ...validAlert(`wt-${field}`), [field]: v }), {
          re: new RegExp(`^element 0: ${name.replace(/[[\]]/g, '\\$&')}`), index: 0, what: `${field}=${js(v)}`,
        });
      }
    }
    for (const field of ['id', 'title', 'severity', 'first_activity']) {
      const a = validAlert(`req-${field}`);
      delete a[field];
      await refused(ALERTS, js(a), { re: new RegExp(`^element 0: ${field}: is required$`), index: 0, what: `no ${field}` });
      await refused(ALERTS, js({ ...validAlert(`null-${field}`), [field]: null }), { re: new RegExp(`^element 0: ${field}: is required$`), index: 0, what: `${field}=null` });
    }
    await refused(ALERTS, js({ ...validAlert('unknown-key'), severityy: 'high' }), { re: /^element 0: severityy: unknown key$/, index: 0 });
  });
});

test('every field of an alert entity is type-checked', async () => {
  await unchanged(async () => {
    const p = { kind: 'pod', key: 'pod:h/n/x', name: 'x' };
    const cases = [
      [{ ...p, kind: 42 }, /entities\[0\]\.kind: expected a string/],
      [{ ...p, kind: 'Pod' }, /entities\[0\]\.kind: "Pod" is not an entity kind/],
      [{ ...p, kind: 'pod', key: 'namespace:h/n' }, /entities\[0\]\.key: must start with "pod:"/],
      [{ ...p, key: 'pod:' }, /entities\[0\]\.key/],
      [{ ...p, key: 42 }, /entities\[0\]\.key: expected a string/],
      [{ kind: 'pod', name: 'x' }, /entities\[0\]\.key: is required/],
      [{ key: 'pod:h/n/x' }, /entities\[0\]\.kind: is required/],
      [{ ...p, name: 42 }, /entities\[0\]\.name: expected a string/],
      [{ ...p, name: 'n'.repeat(256) }, /entities\[0\]\.name: 256 bytes exceeds the limit of 255/],
      [{ ...p, key: `pod:${'k'.repeat(512)}` }, /entities\[0\]\.key: .*exceeds the limit of 511/],
      [{ ...p, properties: 'x' }, /entities\[0\]\.properties: expected an object/],
      [{ ...p, properties: [] }, /entities\[0\]\.properties: expected an object/],
      [{ ...p, extra: 1 }, /entities\[0\]\.extra: unknown key/],
    ];
    for (const [ent, re] of cases) {
      await refused(ALERTS, js({ ...validAlert('ent'), entities: [ent] }), { re, index: 0, what: js(ent).slice(0, 60) });
    }
    await refused(ALERTS, js({ ...validAlert('ent-dup'), entities: [p, { ...p }] }), { re: /entities\[1\]\.key: "pod:h\/n\/x" appears twice/, index: 0 });
    const seventeen = Array.from({ length: 17 }, (_, i) => ({ kind: 'pod', key: `pod:h/n/e${i}` }));
    await refused(ALERTS, js({ ...validAlert('ent-17'), entities: seventeen }), { re: /entities: 17 items exceeds the limit of 16/, index: 0 });
  });
});

test('an alert\'s cluster follows the rule of ?cluster= (no "/", at most 63 characters)', async () => {
  await unchanged(async () => {
    // "prod/eu" would make pod keys like pod:prod/eu/ns/web ambiguous: the
    // report's isolate link would target cluster "prod", namespace "eu".
    for (const c of ['prod/eu', 'a b', 'x'.repeat(64)]) {
      await refused(ALERTS, js({ ...validAlert(`cl-${c.length}`), cluster: c }), { re: /^element 0: cluster:/, index: 0, what: `cluster=${c.slice(0, 10)}` });
    }
  });
});

test('the main Falco fields are type-checked', async () => {
  await unchanged(async () => {
    const of = validFalco(5).output_fields;
    const cases = [
      ['rule', [...WRONG, ''], 'rule'],
      ['priority', [...WRONG, 'Severe', ''], 'priority'],
      ['time', [...WRONG, 'yesterday', '2026-10-01', '1783762314637635216'], 'time'],
      ['output_fields', [42, 'x', [], true, ['a']], 'output_fields'],
      ['tags', [42, 'x', {}, true, [1], [null], [{}], [['T1059']]], 'tags'],
      ['output', WRONG, 'output'],
      ['hostname', WRONG, 'hostname'],
      ['source', WRONG, 'source'],
    ];
    for (const [field, values, name] of cases) {
      for (const v of values) {
        await refused(FALCO, js({ ...validFalco(5), [field]: v }), {
          re: new RegExp(`^element 0: ${name}`), index: 0, what: `${field}=${js(v)}`,
        });
      }
    }
    const ofCases = [
      ['proc.pid', ['12', 4.5, true, {}]],
      ['proc.ppid', ['1']],
      ['k8s.pod.name', [42, {}, ['web']]],
      ['k8s.ns.name', [42]],
      ['container.id', [42, 'c'.repeat(80)]],
      ['proc.cmdline', [42, []]],
      ['proc.exepath', [42, `/${'d'.repeat(1100)}/x`, `/bin/${'f'.repeat(300)}`]],
      ['proc.is_exe_upper_layer', ['true', 1]],
      ['evt.time', ['1783762314637635216', 1.5]],
      ['fd.sport', ['80']],
    ];
    for (const [key, values] of ofCases) {
      for (const v of values) {
        const ev = { ...validFalco(5), output_fields: { ...of, [key]: v } };
        if (key === 'evt.time') delete ev.time;
        await refused(FALCO, js(ev), {
          re: new RegExp(`^element 0: output_fields\\.${key.replace(/[.[\]]/g, '\\$&')}`), index: 0, what: `${key}=${js(v).slice(0, 30)}`,
        });
      }
    }
    for (const field of ['rule', 'priority']) {
      const ev = validFalco(5);
      delete ev[field];
      await refused(FALCO, js(ev), { re: new RegExp(`^element 0: ${field}: is required$`), index: 0 });
    }
    const noTime = validFalco(5);
    delete noTime.time;
    await refused(FALCO, js(noTime), { re: /^element 0: time: is required/, index: 0 });
    await refused(FALCO, js({ ...validFalco(5), tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }), { re: /^element 0: tags: 65 items exceeds the limit of 64$/, index: 0 });
  });
});

test('the main audit fields are type-checked', async () => {
  await unchanged(async () => {
    const cases = [
      ['auditID', [...WRONG, ''], 'auditID'],
      ['verb', [...WRONG, '', 'v'.repeat(32)], 'verb'],
      ['stage', [...WRONG, 'Done'], 'stage'],
      ['user', [42, 'eve', [], true], 'user'],
      ['objectRef', [42, 'pods', [], true], 'objectRef'],
      ['sourceIPs', [42, '203.0.113.9', {}, true, [1], [null], [{}]], 'sourceIPs'],
      ['requestReceivedTimestamp', [...WRONG, 'yesterday', '2026-10-01'], 'requestReceivedTimestamp'],
      ['stageTimestamp', [42, 'later'], 'stageTimestamp'],
      ['responseStatus', [42, 'ok', []], 'responseStatus'],
      ['annotations', [42, 'x', []], 'annotations'],
      ['kind', ['Pod', 42], 'kind'],
      ['apiVersion', ['audit.k8s.io/v2', 42], 'apiVersion'],
    ];
    for (const [field, values, name] of cases) {
      for (const v of values) {
        const body = js(eventList([{ ...validAudit(6), [field]: v }]));
        await refused(AUDIT, body, { re: new RegExp(`^element 0: ${name}`), index: 0, what: `${field}=${js(v)}` });
      }
    }
    const nested = [
      [{ user: { username: 42 } }, /^element 0: user\.username: expected a string$/],
      [{ user: {} }, /^element 0: user\.username: is required$/],
      [{ user: { username: 'eve', groups: 'admins' } }, /^element 0: user\.groups: expected an array$/],
      [{ user: { username: 'eve', groups: [1] } }, /^element 0: user\.groups\[0\]: expected a string$/],
      [{ objectRef: { resource: 42 } }, /^element 0: objectRef\.resource: expected a string$/],
      [{ objectRef: { resource: 'pods', name: [] } }, /^element 0: objectRef\.name: expected a string$/],
      [{ responseStatus: { code: '200' } }, /^element 0: responseStatus\.code: expected an integer$/],
      [{ responseStatus: { code: 1000 } }, /^element 0: responseStatus\.code: 1000 is not an HTTP status$/],
      [{ responseStatus: { code: -1 } }, /^element 0: responseStatus\.code/],
    ];
    for (const [patch, re] of nested) {
      await refused(AUDIT, js(eventList([{ ...validAudit(6), ...patch }])), { re, index: 0, what: js(patch) });
    }
    for (const field of ['auditID', 'verb', 'stage', 'user']) {
      const ev = validAudit(6);
      delete ev[field];
      await refused(AUDIT, js(eventList([ev])), { re: new RegExp(`^element 0: ${field}(\\.username)?: is required$`), index: 0, what: `no ${field}` });
    }
    const noTime = validAudit(6);
    delete noTime.requestReceivedTimestamp;
    delete noTime.stageTimestamp;
    await refused(AUDIT, js(eventList([noTime])), { re: /^element 0: requestReceivedTimestamp: is required$/, index: 0 });
    // The envelope: no index.
    for (const [body, re] of [
      [{ kind: 'EventList', items: {} }, /^items: expected an array$/],
      [{ kind: 'EventList', items: 'x' }, /^items: expected an array$/],
      [{ kind: 'EventList' }, /^items: expected an array$/],
      [{ items: [] }, /^kind: is required$/],
      [{ kind: 42, items: [] }, /^kind: expected a string$/],
      [{ kind: 'PodList', items: [] }, /^kind: "PodList" is not EventList or Event$/],
      [{ kind: 'EventList', apiVersion: 'v1', items: [] }, /^apiVersion:/],
      [[validAudit(6)], /EventList/],
    ]) {
      await refused(AUDIT, js(body), { re, index: null, what: js(body).slice(0, 50) });
    }
    await refused(AUDIT, js(eventList([42])), { re: /^element 0: expected an object$/, index: 0 });
  });
});

test('times before 2000 or more than a day ahead are refused', async () => {
  await unchanged(async () => {
    const past = ['1970-01-01T00:00:00Z', '1999-12-31T23:59:59.999Z', '0001-01-01T00:00:00Z'];
    const future = ['2100-01-01T00:00:00Z', iso(Date.now() + 2 * 86400000), '9999-12-31T23:59:59Z'];
    for (const t of [...past, ...future]) {
      await refused(ALERTS, js({ ...validAlert('t'), first_activity: t }), { re: /^element 0: first_activity: .* is out of range$/, index: 0, what: t });
      await refused(ALERTS, js({ ...validAlert('t'), first_activity: iso(T0), last_activity: t }), { re: /^element 0: last_activity: /, index: 0, what: t });
      await refused(FALCO, js({ ...validFalco(7), time: t }), { re: /^element 0: time: .* is out of range$/, index: 0, what: t });
      await refused(AUDIT, js(eventList([{ ...validAudit(7), requestReceivedTimestamp: t, stageTimestamp: undefined }])), { re: /^element 0: requestReceivedTimestamp: .* is out of range$/, index: 0, what: t });
      await refused(AUDIT, js(eventList([{ ...validAudit(7), stageTimestamp: t }])), { re: /^element 0: stageTimestamp: .* is out of range$/, index: 0, what: t });
    }
    // Falco's integer nanoseconds.
    for (const ns of ['0', '946684799999999999', '4102444800000000000', '-1']) {
      const ev = { ...validFalco(7), output_fields: { ...validFalco(7).output_fields } };
      delete ev.time;
      const body = js(ev).replace('"output_fields":{', `"output_fields":{"evt.time":${ns},`);
      await refused(FALCO, body, { re: /^element 0: output_fields\.evt\.time: .* is out of range$/, index: 0, what: ns });
    }
    // An offset that moves a time out of range counts.
    await refused(ALERTS, js({ ...validAlert('t'), first_activity: '2000-01-01T00:30:00+01:00' }), { re: /out of range/, index: 0 });
  });
});

test('the edges of the time range are accepted', async () => {
  const r = await post(ALERTS, js([
    { ...validAlert('edge-2000'), first_activity: '2000-01-01T00:00:00Z' },
    { ...validAlert('edge-now'), first_activity: iso(Date.now() + 3600000) },
  ]));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.alerts_new, 2);
});

/** `n` copies of `item` as a JSON array, built without a giant JS array. */
const arrayOf = (item, n) => `[${Array(n).fill(item).join(',')}]`;

test('batches of 100,000 elements are refused with 413, quickly', async () => {
  await unchanged(async () => {
    const big = 100000;
    const bodies = [
      [FALCO, arrayOf('{}', big), 'Falco array'],
      [FALCO, Array(big).fill('{}').join('\n'), 'Falco NDJSON'],
      [ALERTS, arrayOf('{}', big), 'alerts array'],
      [AUDIT, `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":${arrayOf('{}', big)}}`, 'audit items'],
    ];
    for (const [target, body, what] of bodies) {
      const t = Date.now();
      await refused(target, body, { status: 413, re: /^batch of 100000 elements exceeds the limit of 5000$/, index: null, what });
      assert.ok(Date.now() - t < 10000, `${what} took ${Date.now() - t} ms`);
    }
    // One past the limit, with real elements.
    await refused(ALERTS, js(Array.from({ length: 5001 }, (_, i) => validAlert(`b-${i}`))), { status: 413, re: /^batch of 5001 elements exceeds the limit of 5000$/, index: null });
    await refused(FALCO, Array.from({ length: 5001 }, (_, i) => js(validFalco(i))).join('\n'), { status: 413, re: /^batch of 5001 elements exceeds the limit of 5000$/, index: null });
  });
});

test('a Falco batch that yields more than 5000 alerts is refused where it happens', async () => {
  await unchanged(async () => {
    // Each drift event gives two alerts: event 2500 gives the 5001st and 5002nd.
    const drift = (i) => ({ ...validFalco(i), output_fields: { ...validFalco(i).output_fields, 'proc.is_exe_upper_layer': true } });
    const body = Array.from({ length: 2600 }, (_, i) => js(drift(i))).join('\n');
    const r = await refused(FALCO, body, { status: 413, re: /more than 5000 alerts/, index: 2500 });
    assert.match(r.json.error.message, /^element 2500: /);
  });
});

test('empty and blank bodies are refused', async () => {
  await unchanged(async () => {
    for (const target of ENDPOINTS) {
      for (const body of ['', ' ', '\n\n', '\t\r\n ']) {
        await refused(target, body, { re: /^empty body$/, index: null, what: js(body) });
      }
    }
  });
});

test('trailing garbage is refused', async () => {
  await unchanged(async () => {
    await refused(ALERTS, `${js(validAlert('tg-1'))} x`, { re: /malformed JSON/ });
    await refused(ALERTS, `${js([validAlert('tg-2')])}]`, { re: /malformed JSON/ });
    await refused(ALERTS, `${js(validAlert('tg-3'))}${js(validAlert('tg-4'))}`, { re: /malformed JSON/ });
    await refused(FALCO, `${js([validFalco(8)])} garbage`, { re: /malformed JSON/ });
    await refused(FALCO, `${js(validFalco(8))} ${js(validFalco(9))}`, { re: /^element 0: unexpected text after the event/, index: 0 });
    await refused(FALCO, `${js(validFalco(8))}\ngarbage`, { re: /^element 1: malformed JSON/, index: 1 });
    await refused(FALCO, `${js(validFalco(8))}\n${js(validFalco(9))}\n{"rule":`, { re: /^element 2: malformed JSON/, index: 2 });
    await refused(AUDIT, `${js(eventList([validAudit(8)]))} x`, { re: /malformed JSON/ });
    await refused(AUDIT, `${js(eventList([validAudit(8)]))}\n${js(eventList([validAudit(9)]))}`, { re: /malformed JSON/ });
  });
});

test('duplicate keys are refused, at any depth', async () => {
  await unchanged(async () => {
    const a = js(validAlert('dk-1'));
    await refused(ALERTS, a.replace('{"id":"dk-1"', '{"id":"dk-1","id":"dk-2"'), { re: /duplicate/i });
    await refused(ALERTS, a.replace('"evidence":{', '"evidence":{"x":1,"x":2,'), { re: /duplicate/i });
    const f = js(validFalco(10));
    await refused(FALCO, f.replace('{"time"', '{"rule":"Other","time"'), { re: /duplicate/i, index: 0 });
    await refused(FALCO, f.replace('"output_fields":{', '"output_fields":{"proc.name":"x",'), { re: /duplicate/i, index: 0 });
    await refused(FALCO, `[${f.replace('{"time"', '{"priority":"Debug","time"')}]`, { re: /duplicate/i });
    const l = js(eventList([validAudit(10)]));
    await refused(AUDIT, l.replace('{"kind":"EventList"', '{"items":[],"kind":"EventList"'), { re: /duplicate/i });
    await refused(AUDIT, l.replace('"user":{', '"user":{"username":"root",'), { re: /duplicate/i });
  });
});

test('scalars, arrays of scalars and other documents are refused', async () => {
  await unchanged(async () => {
    for (const body of ['42', 'null', 'true', '"alert"', '<alert/>', 'id=1&title=x']) {
      for (const target of ENDPOINTS) {
        await refused(target, body, { what: body });
      }
    }
    await refused(ALERTS, '[1,2,3]', { re: /^element 0: expected an object$/, index: 0 });
    await refused(FALCO, '[1,2,3]', { re: /^element 0: expected an object$/, index: 0 });
    await refused(ALERTS, js(validAlert('big-int')).replace('"evidence":{', '"evidence":{"n":18446744073709551615,'), { re: /malformed JSON|integer/ });
  });
});

test('a batch whose third element is bad is refused whole, naming index 2', async () => {
  const before = snapshot();
  const badAlert = { ...validAlert('third-3'), severity: 'extreme' };
  let r = await refused(ALERTS, js([validAlert('third-1'), validAlert('third-2'), badAlert, validAlert('third-4')]), { re: /^element 2: severity:/, index: 2 });
  assert.match(r.json.error.message, /extreme/);

  const badFalco = { ...validFalco(13), priority: 'Loud' };
  const falcos = [validFalco(11), validFalco(12), badFalco, validFalco(14)];
  await refused(FALCO, js(falcos), { re: /^element 2: priority:/, index: 2, what: 'array' });
  await refused(FALCO, falcos.map(js).join('\n'), { re: /^element 2: priority:/, index: 2, what: 'NDJSON' });
  // Blank lines are not elements.
  await refused(FALCO, `\n${js(falcos[0])}\n\n${js(falcos[1])}\n\n\n${js(falcos[2])}\n`, { re: /^element 2: priority:/, index: 2, what: 'NDJSON with blank lines' });
  // Malformed JSON in the third element.
  await refused(FALCO, `[${js(falcos[0])},${js(falcos[1])},{"rule":"x",,}]`, { re: /^element 2: malformed JSON/, index: 2, what: 'array, malformed third' });
  await refused(ALERTS, `[${js(validAlert('m-1'))},${js(validAlert('m-2'))},{"id":]`, { re: /^element 2: malformed JSON/, index: 2, what: 'alerts, malformed third' });

  const audits = [validAudit(11), validAudit(12), { ...validAudit(13), verb: 7 }, validAudit(14)];
  r = await refused(AUDIT, js(eventList(audits)), { re: /^element 2: verb: expected a string$/, index: 2 });
  assert.deepEqual(snapshot(), before);
  // The same batches without the bad element go through whole.
  r = await post(ALERTS, js([validAlert('third-1'), validAlert('third-2'), validAlert('third-4')]));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.alerts_new, 3);
  r = await post(AUDIT, js(eventList([audits[0], audits[1], audits[3]])));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.events, 3);
  const after = snapshot();
  assert.equal(after.alerts, before.alerts + 3 + 3);
  assert.equal(after.CloudAuditEvents, before.CloudAuditEvents + 3);
});

test('after all that the server answers and stops cleanly', async () => {
  const h = await request(srv.url, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
  const r = await post(ALERTS, js(validAlert('last-one')));
  assert.equal(r.status, 200, r.text);
  const code = await srv.stop();
  assert.equal(code, 0);
});
