// A stand-in agent for the gateway's black-box tests: node's tls module
// speaking the frame protocol of docs/agents.md (4-byte big-endian length,
// then one JSON object), plus the key and CSR chores node cannot do itself,
// through tests/fixtures/agentkit (STOCKADE_AGENTKIT).
//
// Only node's standard library (Node 18).
import tls from 'node:tls';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';

import { makeTempDir, withTimeout, runCli } from './server.mjs';

export const AGENTKIT = process.env.STOCKADE_AGENTKIT;
if (!AGENTKIT) throw new Error('STOCKADE_AGENTKIT must be set (run the tests through ctest)');

export const TOKEN_RE = /^stke_[A-Za-z0-9_-]{43}\.[0-9a-f]{64}$/;

/** `obj` (or a string, taken as the JSON text) as one frame. */
export function frame(obj) {
  const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** SHA-256 hex of a certificate's SubjectPublicKeyInfo (the token's pin). */
export function spkiPin(certPemOrDer) {
  const x = new crypto.X509Certificate(certPemOrDer);
  const der = x.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('hex');
}

/** One TLS connection to the gateway, read as frames. */
export class AgentConn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.isClosed = false;
    this.closed = new Promise((resolve) => {
      sock.on('close', () => {
        this.isClosed = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
        resolve();
      });
    });
    sock.on('error', () => {}); // 'close' follows
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4) {
        const n = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + n) break;
        const text = this.buf.subarray(4, 4 + n).toString('utf8');
        this.buf = this.buf.subarray(4 + n);
        const msg = JSON.parse(text);
        const w = this.waiters.shift();
        if (w) w.resolve(msg); else this.frames.push(msg);
      }
    });
  }

  /**
   * Connects to 127.0.0.1:`port`. With `ca` the gateway's chain is
   * verified for the name stockade-gateway; `key`/`cert` present a client
   * certificate. Resolves once the handshake is done.
   */
  static connect(port, { key, cert, ca, timeoutMs = 15000 } = {}) {
    return withTimeout(new Promise((resolve, reject) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'stockade-gateway',
        ca,
        key,
        cert,
        rejectUnauthorized: ca !== undefined,
        minVersion: 'TLSv1.2',
      });
      sock.setNoDelay(true);
      sock.once('secureConnect', () => resolve(new AgentConn(sock)));
      sock.once('error', reject);
      sock.once('close', () => reject(new Error('closed during the handshake')));
    }), timeoutMs, `TLS handshake with the gateway on port ${port}`);
  }

  send(obj) { this.sock.write(frame(obj)); }

  sendRaw(bytes) { this.sock.write(bytes); }

  /** The next frame; rejects when the connection closes first. */
  next(timeoutMs = 15000) {
    if (this.frames.length > 0) return Promise.resolve(this.frames.shift());
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return withTimeout(new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    }), timeoutMs, 'a frame from the gateway');
  }

  /** Resolves when the server closed the connection; rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 15000) {
    return withTimeout(this.closed, timeoutMs, 'the gateway to close the connection');
  }

  /** The frames received before the close, and that it closed. */
  async drainUntilClosed(timeoutMs = 15000) {
    await this.waitClosed(timeoutMs);
    return this.frames.splice(0);
  }

  close() { this.sock.destroy(); }

  /** The chain the gateway sent: [leaf, issuer, ...] as X509Certificate. */
  peerChain() {
    const out = [];
    let c = this.sock.getPeerCertificate(true);
    const seen = new Set();
    while (c && c.raw && !seen.has(c.fingerprint256)) {
      seen.add(c.fingerprint256);
      out.push(new crypto.X509Certificate(c.raw));
      c = c.issuerCertificate;
    }
    return out;
  }
}

/** A new P-256 key (PEM) and its CSR (PEM), made by agentkit. */
export function makeKeyAndCsr(dir = makeTempDir('stockade-agent-')) {
  const keyPath = path.join(dir, `agent-${crypto.randomUUID()}.key`);
  const r = spawnSync(AGENTKIT, ['csr', keyPath], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `agentkit csr: ${r.stderr}`);
  return { key: fs.readFileSync(keyPath, 'utf8'), csr: r.stdout };
}

/** A client certificate from a CA of its own (the server must refuse it). */
export function foreignCert(cluster) {
  const dir = makeTempDir('stockade-foreign-');
  const r = spawnSync(AGENTKIT, ['foreign', dir, cluster], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `agentkit foreign: ${r.stderr}`);
  return {
    key: fs.readFileSync(path.join(dir, 'agent.key'), 'utf8'),
    cert: fs.readFileSync(path.join(dir, 'agent.crt'), 'utf8'),
  };
}

/** `stockade agent enroll-token`; resolves with the token it printed. */
export async function cliEnrollToken(srv, cluster, { ttl } = {}) {
  const args = ['agent', 'enroll-token', '--cluster', cluster, '--db', srv.dbPath,
                '--data-dir', path.join(srv.dir, 'data')];
  if (ttl) args.push('--ttl', ttl);
  const r = await runCli(args);
  assert.equal(r.code, 0, `agent enroll-token: ${r.stderr}`);
  const tok = r.stdout.trim();
  assert.match(tok, TOKEN_RE);
  return tok;
}

/**
 * Plays an agent's first run: connects without a certificate, checks the
 * token's pin against the chain the gateway sent, sends `enroll`, and
 * resolves with {reply, key, conn} (reply: the server's one frame). The
 * connection is closed by the server after its answer.
 */
export async function enroll(port, token, { csr, key, version = '0.1.0' } = {}) {
  if (csr === undefined) ({ key, csr } = makeKeyAndCsr());
  const conn = await AgentConn.connect(port);
  const chain = conn.peerChain();
  const pin = String(token).split('.')[1];
  const ca = chain.find((c) => spkiPin(c.raw) === pin);
  conn.send({ type: 'enroll', token, csr, agent_version: version });
  const reply = await conn.next();
  await conn.waitClosed();
  return { reply, key, conn, caFound: ca !== undefined };
}

/** enroll() that must succeed; resolves with {agentId, cluster, key, cert, ca, commandKey}. */
export async function enrollOk(port, token) {
  const { reply, key, caFound } = await enroll(port, token);
  assert.equal(reply.type, 'enrolled', JSON.stringify(reply));
  assert.ok(caFound, 'the gateway sent the CA the token pins');
  return { agentId: reply.agent_id, cluster: reply.cluster, key, cert: reply.cert, ca: reply.ca,
           commandKey: reply.command_key };
}

/** Connects with an enrolled identity and says hello; resolves with {conn, welcome}. */
export async function connectAgent(port, id, { version = '0.1.0', facts = {} } = {}) {
  const conn = await AgentConn.connect(port, { key: id.key, cert: id.cert, ca: id.ca });
  conn.send({ type: 'hello', agent_version: version, facts });
  const welcome = await conn.next();
  return { conn, welcome };
}

/** A plain TCP connection (for handshakes that never finish). */
export function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}
