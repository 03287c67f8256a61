// The agent gateway (docs/agents.md), black-box: a real `stockade serve`,
// node's tls module as the agent. Enrollment and its refusals, the frame
// protocol's limits, revocation, heartbeats, and that one hostile
// connection never stalls the others.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { startServer, runCli, sleep, sqlite } from './lib/server.mjs';
import { request, cliToken } from './lib/auth.mjs';
import {
  AgentConn, TOKEN_RE, frame, spkiPin, makeKeyAndCsr, foreignCert, cliEnrollToken, enroll,
  enrollOk, connectAgent, rawConnect,
} from './lib/agent.mjs';

let srv;   // default settings
let fast;  // heartbeat 1 s, handshake timeout 1 s
let admin; // bearer token with Administration (on srv)
let fastAdmin;

before(async () => {
  [srv, fast] = await Promise.all([
    startServer(),
    startServer({ args: ['--agent-heartbeat-s', '1', '--agent-handshake-timeout-s', '1'] }),
  ]);
  [admin, fastAdmin] = await Promise.all([
    cliToken(srv.dbPath, 'gw-admin', ['admin']),
    cliToken(fast.dbPath, 'gw-admin', ['admin']),
  ]);
});

/** An enrollment token through the API. */
async function apiToken(s, bearer, cluster, ttlS) {
  const body = { cluster };
  if (ttlS !== undefined) body.ttl_s = ttlS;
  const res = await request(s.url, 'POST', '/api/v1/agents/enroll-tokens', { bearer, body });
  assert.equal(res.status, 201, res.text);
  assert.match(res.json.token, TOKEN_RE);
  return res.json.token;
}

async function agents(s, bearer) {
  const res = await request(s.url, 'GET', '/api/v1/agents', { bearer });
  assert.equal(res.status, 200, res.text);
  return res.json.items;
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
async function eventually(fn, ms = 5000, what = 'condition') {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('startup prints the gateway address; CA and keys are created with private modes', () => {
  assert.ok(srv.gatewayPort > 0, srv.stdout());
  assert.match(srv.stdout(), /gateway listening on 127\.0\.0\.1:\d+\n/);
  const data = path.join(srv.dir, 'data');
  for (const f of ['ca.key', 'gateway.key', 'command.key']) {
    const mode = fs.statSync(path.join(data, f)).mode & 0o777;
    assert.equal(mode, 0o600, `${f} mode ${mode.toString(8)}`);
  }
  const ca = new crypto.X509Certificate(fs.readFileSync(path.join(data, 'ca.crt')));
  assert.ok(ca.ca);
  assert.match(ca.subject, /CN=Stockade agent CA/);
  const years = (Date.parse(ca.validTo) - Date.now()) / (365 * 86400e3);
  assert.ok(years > 9.9 && years < 10.1, `CA valid for ${years} years`);
  const gw = new crypto.X509Certificate(fs.readFileSync(path.join(data, 'gateway.crt')));
  assert.match(gw.subjectAltName, /DNS:stockade-gateway/);
  assert.ok(gw.checkIssued(ca) && gw.verify(ca.publicKey));
});

test('enrollment: CLI token, pinned CA, certificate, hello/welcome, ping/pong', async () => {
  const token = await cliEnrollToken(srv, 'prod-aks');
  const caPem = fs.readFileSync(path.join(srv.dir, 'data', 'ca.crt'), 'utf8');
  assert.equal(token.split('.')[1], spkiPin(caPem), 'the token pins the CA public key');

  const id = await enrollOk(srv.gatewayPort, token);
  assert.equal(id.cluster, 'prod-aks');
  assert.ok(Number.isInteger(id.agentId) && id.agentId > 0);
  assert.equal(id.ca.trim(), caPem.trim());
  assert.equal(Buffer.from(id.commandKey, 'base64').length, 32);
  const cert = new crypto.X509Certificate(id.cert);
  assert.match(cert.subject, /CN=prod-aks/);
  assert.match(cert.subject, /O=stockade-agent/);
  assert.equal(cert.serialNumber.length, 32, `128-bit serial: ${cert.serialNumber}`);
  assert.ok(cert.checkIssued(new crypto.X509Certificate(caPem)));
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extKeyUsage clientAuth only');
  const days = (Date.parse(cert.validTo) - Date.now()) / 86400e3;
  assert.ok(days > 360 && days < 370, `agent certificate valid ${days} days`);
  // The certificate is for the key of the CSR.
  assert.equal(cert.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
               crypto.createPublicKey(id.key).export({ type: 'spki', format: 'der' })
                 .toString('hex'));

  const { conn, welcome } = await connectAgent(srv.gatewayPort, id, { version: '0.1.0-test' });
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.cluster, 'prod-aks');
  assert.equal(welcome.heartbeat_s, 15);
  assert.ok(Math.abs(welcome.server_time - Date.now()) < 60000);

  conn.send({ type: 'ping', t: 12345 });
  assert.deepEqual(await conn.next(), { type: 'pong', t: 12345 });

  const row = await eventually(async () => (await agents(srv, admin))
    .find((a) => a.id === id.agentId && a.connected), 5000, 'the agent to show as connected');
  assert.equal(row.cluster, 'prod-aks');
  assert.equal(row.status, 'connected');
  assert.equal(row.agent_version, '0.1.0-test');
  assert.match(row.address, /^127\.0\.0\.1:\d+$/);
  assert.ok(row.last_seen_at && row.enrolled_at);
  assert.equal(row.revoked_at, null);

  const list = await runCli(['agent', 'list', '--db', srv.dbPath, '--data-dir',
                             path.join(srv.dir, 'data')]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${id.agentId}\\s+prod-aks\\s+connected`, 'm'));

  conn.close();
  await eventually(async () => !(await agents(srv, admin))
    .find((a) => a.id === id.agentId).connected, 5000, 'the agent to show as offline');

  const audit = sqlite(srv.dbPath, "SELECT action, actor FROM audit_log WHERE action LIKE 'agent.%'"
                       + ' ORDER BY id', { json: true });
  assert.ok(audit.some((a) => a.action === 'agent.enroll_token.create' && /^cli:/.test(a.actor)));
  assert.ok(audit.some((a) => a.action === 'agent.enroll' && a.actor === 'agent:prod-aks'));
  const tok = sqlite(srv.dbPath, 'SELECT used_at IS NOT NULL AS used, used_by_agent, secret_hash'
                     + ' FROM agent_enroll_tokens ORDER BY id DESC LIMIT 1', { json: true })[0];
  assert.equal(tok.used, 1);
  assert.equal(tok.used_by_agent, id.agentId);
  assert.ok(!tok.secret_hash.includes(token.split('.')[0]), 'only a hash is stored');
});

test('a token works once; a second enrollment with it is refused', async () => {
  const token = await apiToken(srv, admin, 'reuse');
  await enrollOk(srv.gatewayPort, token);
  const { reply } = await enroll(srv.gatewayPort, token);
  assert.equal(reply.type, 'error');
  assert.equal(reply.code, 'enroll_refused');
  assert.match(reply.message, /already used/);
});

test('expired, unknown, foreign-pinned and malformed tokens are refused', async () => {
  const expired = await apiToken(srv, admin, 'late', 1);
  await sleep(2100);
  const pin = expired.split('.')[1];
  const unknown = `stke_${crypto.randomBytes(32).toString('base64url')}.${pin}`;
  const otherPin = await apiToken(srv, admin, 'pin');
  const foreign = `${otherPin.split('.')[0]}.${'0'.repeat(64)}`;
  const cases = [
    [expired, /expired/],
    [unknown, /unknown/],
    [foreign, /another server/],
    ['stke_short.abc', /malformed/],
    [42, /malformed/],
  ];
  for (const [token, re] of cases) {
    const { reply } = await enroll(srv.gatewayPort, token);
    assert.equal(reply.code, 'enroll_refused', JSON.stringify(token));
    assert.match(reply.message, re, JSON.stringify(token));
  }
  // The refused pin token still works: a refusal consumes nothing.
  await enrollOk(srv.gatewayPort, otherPin);
});

test('a CSR that does not parse or is not P-256 is refused without using the token', async () => {
  const token = await apiToken(srv, admin, 'csr');
  for (const csr of ['not a csr', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END '
                     + 'CERTIFICATE REQUEST-----\n', 7]) {
    const { reply } = await enroll(srv.gatewayPort, token, { csr, key: '' });
    assert.equal(reply.code, 'enroll_refused');
    assert.match(reply.message, /csr/);
  }
  await enrollOk(srv.gatewayPort, token);
});

test('enroll-token API checks its input and needs Administration', async () => {
  const bad = [{ cluster: 'has space' }, { cluster: '' }, { cluster: 'x'.repeat(64) },
               { cluster: 'ok', ttl_s: 0 }, { cluster: 'ok', ttl_s: 31 * 86400 },
               { cluster: 'ok', ttl_s: '1h' }, { cluster: 'ok', extra: 1 }, {}];
  for (const body of bad) {
    const res = await request(srv.url, 'POST', '/api/v1/agents/enroll-tokens',
                              { bearer: admin, body });
    assert.equal(res.status, 400, JSON.stringify(body) + res.text);
  }
  const viewer = await cliToken(srv.dbPath, 'gw-viewer', ['alerts:read', 'response:read']);
  const res = await request(srv.url, 'POST', '/api/v1/agents/enroll-tokens',
                            { bearer: viewer, body: { cluster: 'ok' } });
  assert.equal(res.status, 403);
  const cli = await runCli(['agent', 'enroll-token', '--cluster', 'bad name', '--db', srv.dbPath,
                            '--data-dir', path.join(srv.dir, 'data')]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /cluster/);
});

test('without a certificate only enroll is allowed', async () => {
  for (const msg of [{ type: 'hello', agent_version: '1', facts: {} }, { type: 'ping', t: 1 },
                     { type: 'facts', facts: {} }]) {
    const conn = await AgentConn.connect(srv.gatewayPort);
    conn.send(msg);
    const frames = await conn.drainUntilClosed();
    assert.equal(frames.length, 1, JSON.stringify(frames));
    assert.equal(frames[0].code, 'protocol');
  }
});

test('malformed frames end the connection: too long, empty, not JSON, not an object', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'framing'));
  const tooLong = Buffer.alloc(4);
  tooLong.writeUInt32BE(1024 * 1024 + 1);
  const bad = [tooLong, Buffer.alloc(4), frame('{"type":'), frame('[1,2]'),
               frame('{"type":7}'), frame('{"no":"type"}'), frame('{"type":"a","type":"b"}')];
  for (const bytes of bad) {
    const { conn } = await connectAgent(srv.gatewayPort, id);
    conn.sendRaw(bytes);
    const frames = await conn.drainUntilClosed();
    assert.ok(frames.every((f) => f.type === 'error' && f.code === 'protocol'),
              JSON.stringify(frames));
  }
  // Also before hello, and also on an enrolling connection.
  const anon = await AgentConn.connect(srv.gatewayPort);
  anon.sendRaw(tooLong);
  await anon.waitClosed();
  // A frame of exactly 1 MiB is allowed (and refused for its type only).
  const { conn } = await connectAgent(srv.gatewayPort, id);
  const prefix = '{"type":"future","pad":"';
  const padded = prefix + 'x'.repeat(1024 * 1024 - prefix.length - 2) + '"}';
  assert.equal(Buffer.byteLength(padded), 1024 * 1024);
  conn.sendRaw(frame(padded));
  const reply = await conn.next();
  assert.equal(reply.code, 'unknown_type');
  conn.send({ type: 'ping', t: 'still here' });
  assert.deepEqual(await conn.next(), { type: 'pong', t: 'still here' });
  conn.close();
});

test('frames before hello, and a second hello, are protocol errors', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'order'));
  const early = await AgentConn.connect(srv.gatewayPort, { key: id.key, cert: id.cert, ca: id.ca });
  early.send({ type: 'ping', t: 1 });
  const f1 = await early.drainUntilClosed();
  assert.equal(f1[0].code, 'protocol');
  const { conn } = await connectAgent(srv.gatewayPort, id);
  conn.send({ type: 'hello', agent_version: '1', facts: {} });
  const f2 = await conn.drainUntilClosed();
  assert.equal(f2[0].code, 'protocol');
});

test('unknown frame types are refused and the connection stays', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'unknown'));
  const { conn } = await connectAgent(srv.gatewayPort, id);
  conn.send({ type: 'from-the-future', x: 1 });
  const e = await conn.next();
  assert.equal(e.type, 'error');
  assert.equal(e.code, 'unknown_type');
  conn.send({ type: 'ping', t: 2 });
  assert.deepEqual(await conn.next(), { type: 'pong', t: 2 });
  conn.close();
});

test('a newer connection for the same cluster replaces the older one', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'twice'));
  const first = await connectAgent(srv.gatewayPort, id);
  const second = await connectAgent(srv.gatewayPort, id);
  await first.conn.waitClosed(5000);
  second.conn.send({ type: 'ping', t: 3 });
  assert.deepEqual(await second.conn.next(), { type: 'pong', t: 3 });
  second.conn.close();
  assert.match(srv.stderr(), /event=agent_disconnected .*cluster=twice .*reason=replaced/);
});

test('revocation (CLI, another process) drops a live agent within 2 s and refuses it after',
  async () => {
    const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'revoked-cli'));
    const { conn } = await connectAgent(srv.gatewayPort, id);
    const r = await runCli(['agent', 'revoke', String(id.agentId), '--db', srv.dbPath,
                            '--data-dir', path.join(srv.dir, 'data')]);
    assert.equal(r.code, 0, r.stderr);
    const t0 = Date.now();
    const frames = await conn.drainUntilClosed(5000);
    const ms = Date.now() - t0;
    assert.ok(ms < 2500, `dropped after ${ms} ms`);
    assert.equal(frames.at(-1).code, 'revoked');

    const again = await AgentConn.connect(srv.gatewayPort, { key: id.key, cert: id.cert,
                                                             ca: id.ca });
    const f = await again.drainUntilClosed();
    assert.deepEqual(f.map((x) => x.code), ['revoked']);
    const row = (await agents(srv, admin)).find((a) => a.id === id.agentId);
    assert.equal(row.status, 'revoked');
    assert.match(row.revoked_by, /^cli:/);
    const twice = await runCli(['agent', 'revoke', String(id.agentId), '--db', srv.dbPath]);
    assert.notEqual(twice.code, 0);
  });

test('revocation through the API drops the agent at once; audited; 404 and 409', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'revoked-api'));
  const { conn } = await connectAgent(srv.gatewayPort, id);
  const t0 = Date.now();
  const res = await request(srv.url, 'POST', `/api/v1/agents/${id.agentId}/revoke`,
                            { bearer: admin });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.status, 'revoked');
  await conn.waitClosed(5000);
  assert.ok(Date.now() - t0 < 2500);
  const again = await request(srv.url, 'POST', `/api/v1/agents/${id.agentId}/revoke`,
                              { bearer: admin });
  assert.equal(again.status, 409);
  const missing = await request(srv.url, 'POST', '/api/v1/agents/999999/revoke', { bearer: admin });
  assert.equal(missing.status, 404);
  const audit = sqlite(srv.dbPath, `SELECT count(*) FROM audit_log WHERE action = 'agent.revoke'`
                       + ` AND target = 'agent:${id.agentId}' AND actor = 'token:gw-admin'`);
  assert.equal(audit, '1');
});

test('a client certificate from another CA is refused', async () => {
  const foreign = foreignCert('prod-aks');
  const caPem = fs.readFileSync(path.join(srv.dir, 'data', 'ca.crt'), 'utf8');
  let conn;
  try {
    conn = await AgentConn.connect(srv.gatewayPort, { ...foreign, ca: caPem });
  } catch {
    return; // refused during the handshake: fine too
  }
  conn.send({ type: 'hello', agent_version: '1', facts: {} });
  const frames = await conn.drainUntilClosed(5000);
  assert.deepEqual(frames, []);
  assert.match(srv.stderr(), /event=agent_refused .*reason=bad_certificate/);
});

test('a stalled handshake or a partial frame does not hold up other agents', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'busy'));
  // Half a ClientHello, then nothing.
  const stalled = await rawConnect(srv.gatewayPort);
  stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
  // An authenticated agent that starts a 100-byte frame and stops after 10.
  const partial = await connectAgent(srv.gatewayPort, id);
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32BE(100);
  partial.conn.sendRaw(Buffer.concat([hdr, Buffer.from('{"type":"p')]));
  // A silent TCP connection that never says anything.
  const silent = await rawConnect(srv.gatewayPort);

  const other = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'busy-2'));
  const t0 = Date.now();
  const { conn, welcome } = await connectAgent(srv.gatewayPort, other);
  assert.equal(welcome.type, 'welcome');
  for (let i = 0; i < 20; i++) {
    conn.send({ type: 'ping', t: i });
    assert.deepEqual(await conn.next(5000), { type: 'pong', t: i });
  }
  assert.ok(Date.now() - t0 < 10000);
  conn.close();
  partial.conn.close();
  stalled.destroy();
  silent.destroy();
});

test('handshakes that do not finish in time are closed', async () => {
  const stalled = await rawConnect(fast.gatewayPort);
  stalled.write(Buffer.from([0x16, 0x03, 0x01]));
  const t0 = Date.now();
  await new Promise((resolve) => stalled.on('close', resolve));
  const ms = Date.now() - t0;
  assert.ok(ms >= 800 && ms < 4000, `closed after ${ms} ms`);
  // An enrolling connection that never sends its frame is closed too.
  const anon = await AgentConn.connect(fast.gatewayPort);
  await anon.waitClosed(5000);
  assert.match(fast.stderr(), /event=agent_refused .*reason=handshake_timeout/);
  assert.match(fast.stderr(), /event=agent_refused .*reason=enroll_timeout/);
});

test('an agent silent for 3 heartbeats is dropped; one that pings stays', async () => {
  const a = await enrollOk(fast.gatewayPort, await apiToken(fast, fastAdmin, 'quiet'));
  const b = await enrollOk(fast.gatewayPort, await apiToken(fast, fastAdmin, 'chatty'));
  const quiet = await connectAgent(fast.gatewayPort, a);
  assert.equal(quiet.welcome.heartbeat_s, 1);
  const chatty = await connectAgent(fast.gatewayPort, b);
  const t0 = Date.now();
  let stop = false;
  const pinger = (async () => {
    for (let i = 0; !stop; i++) {
      chatty.conn.send({ type: 'ping', t: i });
      await chatty.conn.next(3000);
      await sleep(400);
    }
  })();
  await quiet.conn.waitClosed(8000);
  const ms = Date.now() - t0;
  assert.ok(ms >= 2500 && ms < 6000, `dropped after ${ms} ms`);
  await sleep(1500);
  assert.equal(chatty.conn.isClosed, false, 'the agent that pings is still connected');
  stop = true;
  await pinger;
  chatty.conn.close();
  assert.match(fast.stderr(),
               /event=agent_disconnected .*cluster=quiet .*reason=heartbeat_timeout/);
});

test('the gateway keeps working through many short connections', async () => {
  const id = await enrollOk(srv.gatewayPort, await apiToken(srv, admin, 'churn'));
  const runs = Array.from({ length: 20 }, async (_, i) => {
    if (i % 2 === 0) {
      const c = await AgentConn.connect(srv.gatewayPort);
      c.close();
      return;
    }
    const { conn } = await connectAgent(srv.gatewayPort, id);
    conn.close();
  });
  await Promise.all(runs);
  const { conn } = await connectAgent(srv.gatewayPort, id);
  conn.send({ type: 'ping', t: 'after' });
  assert.deepEqual(await conn.next(), { type: 'pong', t: 'after' });
  conn.close();
});

test('shutdown with agents connected is clean', async () => {
  const s = await startServer();
  const t = await cliToken(s.dbPath, 'gw-admin', ['admin']);
  const id = await enrollOk(s.gatewayPort, await apiToken(s, t, 'shutdown'));
  const { conn } = await connectAgent(s.gatewayPort, id);
  const anon = await AgentConn.connect(s.gatewayPort);
  assert.equal(await s.stop(), 0);
  await conn.waitClosed(5000);
  await anon.waitClosed(5000);
  const row = sqlite(s.dbPath, `SELECT connected FROM agents WHERE id = ${id.agentId}`);
  assert.equal(row, '0');
});
