// Helpers for the ingestion, correlation, queue and triage tests: build
// Stockade alert JSON, post it with a token, and find where alerts landed.
import assert from 'node:assert/strict';

import { request } from './auth.mjs';

export const HOUR = 3600 * 1000;
/** A fixed base time, recent enough for the ingestion time bounds. */
export const T0 = Date.UTC(2026, 9, 1, 8, 0, 0);

export const iso = (ms) => new Date(ms).toISOString();

export const pod = (cluster, ns, name) => ({ kind: 'pod', key: `pod:${cluster}/${ns}/${name}`, name });
export const ns = (cluster, name) => ({ kind: 'namespace', key: `namespace:${cluster}/${name}`, name });
export const identity = (cluster, name) => ({ kind: 'identity', key: `identity:${cluster}/${name}`, name });
export const cluster = (name) => ({ kind: 'cluster', key: `cluster:${name}`, name });
export const ip = (addr) => ({ kind: 'ip', key: `ip:${addr}`, name: addr });

/** One alert in Stockade's own format; `ext` is its id (kept in evidence
 * too so that tests can map stored alerts back). */
export function alert(ext, { at = T0, title = `Alert ${ext}`, severity = 'medium', tactic, technique,
  clusterName = 'c1', entities = [], provider } = {}) {
  const a = {
    id: ext,
    title,
    severity,
    first_activity: iso(at),
    cluster: clusterName,
    entities: [cluster(clusterName), ...entities],
    evidence: { ext },
  };
  if (tactic) a.tactic = tactic;
  if (technique) a.technique = technique;
  if (provider) a.provider = provider;
  return a;
}

export async function postAlerts(url, token, body, path = '/api/v1/alerts') {
  return request(url, 'POST', path, { bearer: token, body });
}

export async function mustPost(url, token, body, path = '/api/v1/alerts') {
  const r = await postAlerts(url, token, body, path);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
}

export async function getJson(url, token, target, status = 200) {
  const r = await request(url, 'GET', target, { bearer: token });
  assert.equal(r.status, status, `${target}: ${r.text}`);
  return r.json;
}

/** Every incident (all statuses) as [{id, ...summary}]. */
export async function allIncidents(url, token, query = '') {
  const out = [];
  let cursor = null;
  for (;;) {
    const q = new URLSearchParams(query);
    q.set('limit', '200');
    if (cursor) q.set('cursor', cursor);
    const page = await getJson(url, token, `/api/v1/incidents?${q}`);
    out.push(...page.items);
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
}

/** Map ext id -> incident id, reading each incident's alerts. */
export async function placement(url, token, query = '') {
  const where = new Map();
  for (const inc of await allIncidents(url, token, query)) {
    const full = await getJson(url, token, `/api/v1/incidents/${inc.id}`);
    for (const a of full.alerts) where.set(a.evidence.ext, inc.id);
  }
  return where;
}

/** The partition of ext ids as a sorted list of sorted groups. */
export function partition(where, exts) {
  const groups = new Map();
  for (const e of exts) {
    const id = where.get(e);
    assert.ok(id, `alert ${e} is in no incident`);
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push(e);
  }
  return [...groups.values()].map((g) => g.sort().join(',')).sort();
}

/** A seeded shuffle (deterministic across runs). */
export function shuffle(items, seed) {
  const a = [...items];
  let s = seed >>> 0;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
