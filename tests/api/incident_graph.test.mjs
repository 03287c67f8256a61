// The incident graph: GET /api/v1/incidents/{id}/graph.svg and /graph.
// Well-formed SVG with every outside label escaped and its own restrictive
// Content-Security-Policy; the JSON the browser draws from; grouping of
// similar entities (and ungrouping); incidents of 0, 1 and 2,000 entities
// made through POST /api/v1/alerts; the ETag as content hash with 304s and
// a new tag after a change; 404/400; who may read.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, makeTempDir } from './lib/server.mjs';
import { request, addUsers, cliToken, signIn, as, assertError } from './lib/auth.mjs';
import { T0, iso, alert, pod, mustPost, placement } from './lib/incidents.mjs';
import { parseCsp } from './lib/checks.mjs';

const PW = 'vera-password-123';
const BIG = 2000;

let srv;
let tok; // alerts:read + alerts:manage
let respTok; // response:read only
let viewer;
const inc = {}; // zero, one, hostile, big -> incident id

const SCRIPT = '<script>alert(1)</script>';
const QUOTES = `"quoted" & 'single' <b>bold</b>`;
const CONTROLS = 'ctl\u0001\u0007\u001b[31m\u007f end';
const LONG = `${'x'.repeat(60)}<&>${'y'.repeat(120)}`;
const COMMENT = 'orders ]]> <!-- x --> <![CDATA[';

/** An alert in Stockade's format without the cluster entity the helper adds. */
function bare(ext, entities, severity = 'low') {
  return { id: ext, title: `Alert ${ext}`, severity, first_activity: iso(T0), entities, evidence: { ext } };
}

function hostileAlerts() {
  const c = 'hx';
  const web = { kind: 'pod', key: `pod:${c}/shop/web`, name: SCRIPT };
  return [
    alert('hx-1', {
      clusterName: c, severity: 'medium', entities: [
        web,
        { kind: 'container', key: `container:${c}/abc123`, name: QUOTES },
        { kind: 'identity', key: `identity:${c}/sa-web`, name: CONTROLS },
        { kind: 'ip', key: 'ip:203.0.113.7', name: LONG },
      ],
    }),
    alert('hx-2', {
      clusterName: c, severity: 'high', at: T0 + 60000, entities: [
        web,
        { kind: 'cloud-resource', key: 'cloud-resource:gcp/orders', name: COMMENT },
      ],
    }),
  ];
}

/** One pod talking to 1,998 addresses: 2,000 entities with the cluster,
 *  in alerts of 16 entities (the limit), all sharing the pod. */
function bigAlerts() {
  const out = [];
  const hub = pod('big', 'ns', 'hub');
  let n = 0;
  for (let a = 0; n < BIG - 2; a++) {
    const ents = [hub];
    for (let k = 0; k < 14 && n < BIG - 2; k++, n++) {
      const addr = `10.77.${Math.floor(n / 250)}.${n % 250}`;
      ents.push({ kind: 'ip', key: `ip:${addr}`, name: addr });
    }
    out.push(alert(`big-${a}`, { clusterName: 'big', at: T0 + a * 1000, severity: ['low', 'medium', 'high'][a % 3], entities: ents }));
  }
  return out;
}

before(async () => {
  const dir = makeTempDir('stockade-graph-');
  const db = `${dir}/stockade.db`;
  await addUsers(db, [{ name: 'vera', role: 'viewer', password: PW }]);
  tok = await cliToken(db, 'graph-ingest', ['alerts:read', 'alerts:manage']);
  respTok = await cliToken(db, 'graph-response', ['response:read']);
  srv = await startServer({ dir });
  viewer = await signIn(srv.url, 'vera', PW);

  await mustPost(srv.url, tok, [bare('zero-1', []), bare('one-1', [{ kind: 'ip', key: 'ip:198.51.100.1', name: '198.51.100.1' }], 'high')]);
  await mustPost(srv.url, tok, hostileAlerts());
  const big = bigAlerts();
  for (let i = 0; i < big.length; i += 50) await mustPost(srv.url, tok, big.slice(i, i + 50));

  const where = await placement(srv.url, tok);
  inc.zero = where.get('zero-1');
  inc.one = where.get('one-1');
  inc.hostile = where.get('hx-1');
  inc.big = where.get('big-0');
  assert.equal(where.get('hx-2'), inc.hostile, 'the hostile alerts share an incident');
  for (const a of big) assert.equal(where.get(a.evidence.ext), inc.big, `${a.id} is in the big incident`);
  assert.equal(new Set(Object.values(inc)).size, 4, JSON.stringify(inc));
});

const svgPath = (id, q = '') => `/api/v1/incidents/${id}/graph.svg${q}`;
const jsonPath = (id, q = '') => `/api/v1/incidents/${id}/graph${q}`;

async function get(target, who = { bearer: tok }, headers = {}) {
  return as(srv.url, who, 'GET', target, { headers, timeoutMs: 120000 });
}

/** Balanced tags, quoted attributes without '<', known entities only, no
 *  control characters, one root element: enough XML to know that no label
 *  broke out of its place. Returns the element names seen. */
function assertWellFormed(xml) {
  const names = new Set();
  const stack = [];
  let roots = 0;
  let i = 0;
  const entity = /^&(amp|lt|gt|quot|#39|#x[0-9a-fA-F]+|#[0-9]+);/;
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/, 'control character in the SVG');
  while (i < xml.length) {
    const c = xml[i];
    if (c === '&') {
      assert.match(xml.slice(i, i + 12), entity, `bad entity at ${xml.slice(i, i + 40)}`);
      i++;
      continue;
    }
    assert.notEqual(c, '>', `stray '>' at ${xml.slice(Math.max(0, i - 40), i + 40)}`);
    if (c !== '<') {
      if (stack.length === 0) assert.match(c, /\s/, `text outside the root at ${i}`);
      i++;
      continue;
    }
    const m = /^<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/.exec(xml.slice(i, i + 200000));
    assert.ok(m, `malformed tag at ${xml.slice(i, i + 80)}`);
    const [whole, closing, name, attrs, selfClosing] = m;
    for (const am of attrs.matchAll(/="([^"]*)"/g)) {
      for (const amp of am[1].matchAll(/&/g)) {
        assert.match(am[1].slice(amp.index, amp.index + 12), entity, `bad entity in attribute ${am[1].slice(0, 80)}`);
      }
    }
    names.add(name);
    if (closing) {
      assert.equal(stack.pop(), name, `unbalanced </${name}>`);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) {
      roots++;
    }
    i += whole.length;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'one root element');
  return names;
}

/** The text of every <title> element, unescaped. */
function titles(xml) {
  const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return [...xml.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => unescape(m[1]));
}

/** The policies of a Content-Security-Policy header that node joined. */
function policies(value) {
  return value.split(',').map((p) => parseCsp(p));
}

test('the SVG is well-formed, escapes every label and has a policy of its own', async () => {
  const r = await get(svgPath(inc.hostile));
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.match(r.headers['content-type'], /^image\/svg\+xml(;|$)/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const own = policies(r.headers['content-security-policy'] ?? '')
    .find((p) => (p['default-src'] ?? []).includes("'none'"));
  assert.ok(own, `no policy with default-src 'none': ${r.headers['content-security-policy']}`);
  assert.deepEqual(own['img-src'], ["'self'"]);
  assert.ok(!('script-src' in own), 'scripts fall back to default-src none');
  for (const p of policies(r.headers['content-security-policy'])) {
    const scripts = p['script-src'] ?? p['default-src'] ?? [];
    assert.ok(!scripts.includes("'unsafe-inline'") && !scripts.includes('*'), 'no script source opened');
  }
  assert.match(r.headers.etag, /^"[0-9a-f]{64}\.g1\.svg"$/);
  assert.match(r.headers['cache-control'], /no-cache/);

  const svg = r.text;
  const names = assertWellFormed(svg);
  for (const bad of ['script', 'foreignObject', 'iframe', 'style', 'a']) {
    assert.ok(!names.has(bad), `<${bad}> element in the SVG`);
  }
  assert.doesNotMatch(svg, /<script/i);
  assert.doesNotMatch(svg, /<!--|<!\[CDATA\[|\]\]>/);
  assert.doesNotMatch(svg, /\son[a-z]+\s*=/i, 'event handler attribute');
  assert.doesNotMatch(svg, /\sstyle\s*=/i, 'style attribute (pages forbid inline style)');
  assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(svg, /&quot;quoted&quot; &amp; &#39;single&#39; &lt;b&gt;bold&lt;\/b&gt;/);
  assert.match(svg, /ctl\[31m end/);
  // Every node keeps the whole text in its <title>; the label shows 48
  // characters at most, the last an ellipsis.
  const all = titles(svg).join('\n');
  for (const name of [SCRIPT, QUOTES, LONG, COMMENT]) assert.ok(all.includes(name), `title lacks ${name.slice(0, 40)}`);
  const labels = [...svg.matchAll(/<text class="label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  assert.ok(labels.includes(`${'x'.repeat(47)}\u2026`), `long label not cut: ${labels.join(' | ')}`);
  // Visual rules: dark container resources, light others, severity rings,
  // icons per kind, a legend, keyboard-reachable nodes.
  assert.match(svg, /class="node kind-pod dark sev-high"/);
  assert.match(svg, /class="node kind-ip light sev-medium"/);
  assert.match(svg, /class="node kind-cloud-resource light sev-high"/);
  for (const kind of ['pod', 'container', 'identity', 'ip', 'cloud-resource', 'cluster']) {
    assert.match(svg, new RegExp(`href="/static/icons/kind-${kind}\\.svg"`));
    const icon = await request(srv.url, 'GET', `/static/icons/kind-${kind}.svg`);
    assert.equal(icon.status, 200, kind);
    assertWellFormed(icon.text);
  }
  assert.match(svg, /class="legend"/);
  assert.match(svg, /tabindex="0" role="button"/);
  assert.match(svg, /class="edge rel-runs-in"/);
});

test('the JSON carries the same graph with positions for the browser', async () => {
  const r = await get(jsonPath(inc.hostile, '?grouped=0'));
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.match(r.headers.etag, /^"[0-9a-f]{64}\.g0\.json"$/);
  const g = r.json;
  assert.equal(g.grouped, false);
  assert.ok(g.width > 0 && g.height > 0);
  assert.equal(g.nodes.length, 6);
  const keys = ['id', 'kind', 'key', 'name', 'label', 'x', 'y', 'w', 'h', 'critical', 'on_path',
    'context', 'severity', 'count', 'members'];
  const ids = new Set();
  for (const n of g.nodes) {
    assert.deepEqual(Object.keys(n).sort(), [...keys].sort());
    assert.ok(n.x - n.w / 2 >= -0.5 && n.x + n.w / 2 <= g.width + 0.5, `${n.key} x`);
    assert.ok(n.y - n.h / 2 >= -0.5 && n.y + n.h / 2 <= g.height + 0.5, `${n.key} y`);
    assert.equal(n.count, 1);
    assert.equal(n.members, null);
    ids.add(n.id);
  }
  const byKey = Object.fromEntries(g.nodes.map((n) => [n.key, n]));
  assert.equal(byKey['pod:hx/shop/web'].name, SCRIPT);
  assert.equal(byKey['pod:hx/shop/web'].severity, 'high');
  assert.equal(byKey['container:hx/abc123'].name, QUOTES);
  assert.equal(byKey['identity:hx/sa-web'].name, 'ctl[31m end');
  assert.equal(byKey['ip:203.0.113.7'].name, LONG);
  assert.equal(byKey['ip:203.0.113.7'].label, `${'x'.repeat(47)}\u2026`);
  assert.equal(byKey['ip:203.0.113.7'].severity, 'medium');
  assert.ok(g.edges.length >= 3);
  for (const e of g.edges) {
    assert.ok(ids.has(e.from) && ids.has(e.to), JSON.stringify(e));
    assert.equal(typeof e.kind, 'string');
    assert.equal((e.points.length - 1) % 3, 0);
    for (const p of [...e.points, e.label_at]) assert.equal(p.length, 2);
  }
  assert.ok(g.edges.some((e) => e.kind === 'runs-in' && e.from === byKey['container:hx/abc123'].id &&
    e.to === byKey['pod:hx/shop/web'].id));
});

test('2,000 entities: grouped by default into a few nodes, every one when ungrouped', async () => {
  let t = Date.now();
  const grouped = await get(jsonPath(inc.big));
  const groupedMs = Date.now() - t;
  assert.equal(grouped.status, 200, grouped.text.slice(0, 300));
  assert.equal(grouped.json.grouped, true);
  const nodes = grouped.json.nodes;
  assert.equal(nodes.length, 3, nodes.map((n) => n.name).join(', '));
  const group = nodes.find((n) => n.id < 0);
  assert.equal(group.name, '1998 IPs');
  assert.equal(group.kind, 'ip');
  assert.equal(group.count, 1998);
  assert.equal(group.members.length, 1998);
  assert.equal(group.severity, 'high');
  assert.deepEqual(grouped.json.edges.map((e) => [e.kind, e.count]), [['talked-to', 1998]]);
  const svg = await get(svgPath(inc.big));
  assert.equal(svg.status, 200);
  assertWellFormed(svg.text);
  assert.match(svg.text, /1998 IPs/);
  assert.match(svg.text, /class="node kind-ip light sev-high group"/);

  t = Date.now();
  const all = await get(jsonPath(inc.big, '?grouped=0'));
  const ungroupedMs = Date.now() - t;
  assert.equal(all.status, 200, all.text.slice(0, 300));
  assert.equal(all.json.nodes.length, BIG);
  assert.equal(all.json.edges.length, BIG - 2);
  assert.ok(all.json.nodes.every((n) => n.id > 0 && n.count === 1));
  const svgAll = await get(svgPath(inc.big, '?grouped=0'));
  assert.equal(svgAll.status, 200);
  assertWellFormed(svgAll.text);
  assert.equal((svgAll.text.match(/<g class="node /g) ?? []).length, BIG);
  // Both states are rendered and cached: asking again is quick.
  t = Date.now();
  assert.equal((await get(svgPath(inc.big, '?grouped=0'))).status, 200);
  const cachedMs = Date.now() - t;
  console.log(`2,000 entities (sanitizer build): grouped ${groupedMs} ms, ungrouped ${ungroupedMs} ms, cached ${cachedMs} ms`);
});

test('an incident without entities and one with a single entity', async () => {
  const zero = await get(svgPath(inc.zero));
  assert.equal(zero.status, 200);
  assertWellFormed(zero.text);
  assert.match(zero.text, /No entities in this incident/);
  assert.match(zero.text, /class="legend"/);
  const zj = await get(jsonPath(inc.zero));
  assert.deepEqual([zj.json.nodes, zj.json.edges], [[], []]);

  const one = await get(svgPath(inc.one));
  assert.equal(one.status, 200);
  assertWellFormed(one.text);
  const oj = await get(jsonPath(inc.one));
  assert.equal(oj.json.nodes.length, 1);
  assert.equal(oj.json.nodes[0].kind, 'ip');
  assert.equal(oj.json.nodes[0].severity, 'high');
  assert.equal(oj.json.edges.length, 0);
});

test('the ETag is the content hash: 304 while unchanged, a new tag after a change', async () => {
  const first = await get(svgPath(inc.hostile));
  const etag = first.headers.etag;
  const same = await get(svgPath(inc.hostile), { bearer: tok }, { 'If-None-Match': etag });
  assert.equal(same.status, 304);
  assert.equal(same.text, '');
  assert.equal(same.headers.etag, etag);
  const weak = await get(svgPath(inc.hostile), { bearer: tok }, { 'If-None-Match': `"other", W/${etag}` });
  assert.equal(weak.status, 304);
  // Each representation has its own tag.
  const ungrouped = await get(svgPath(inc.hostile, '?grouped=0'), { bearer: tok }, { 'If-None-Match': etag });
  assert.equal(ungrouped.status, 200);
  assert.notEqual(ungrouped.headers.etag, etag);
  const json = await get(jsonPath(inc.hostile), { bearer: tok }, { 'If-None-Match': etag });
  assert.equal(json.status, 200);
  assert.notEqual(json.headers.etag, etag);
  // The same content gives the same bytes.
  assert.equal((await get(svgPath(inc.hostile))).text, first.text);

  // A new alert on the pod adds an address: new content, new tag.
  await mustPost(srv.url, tok, alert('hx-3', {
    clusterName: 'hx', at: T0 + 120000, entities: [
      { kind: 'pod', key: 'pod:hx/shop/web', name: SCRIPT },
      { kind: 'ip', key: 'ip:192.0.2.44', name: '192.0.2.44' },
    ],
  }));
  const changed = await get(svgPath(inc.hostile), { bearer: tok }, { 'If-None-Match': etag });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.etag, etag);
  assert.match(changed.text, /192\.0\.2\.44/);
  assertWellFormed(changed.text);
});

test('unknown incidents are 404, a bad grouped value 400', async () => {
  for (const p of [svgPath(999999), jsonPath(999999), svgPath('abc'), jsonPath('-1')]) {
    assertError(await get(p), 404, 'not_found', undefined, p);
  }
  assertError(await get(svgPath(inc.one, '?grouped=2')), 400, 'invalid_request', 'grouped must be 0 or 1');
  assertError(await get(jsonPath(inc.one, '?grouped=')), 400, 'invalid_request');
  assert.equal((await get(jsonPath(inc.one, '?grouped=0'))).status, 200);
});

test('viewers read the graph; nobody else without Alerts: Read', async () => {
  const r = await get(svgPath(inc.hostile), viewer);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^image\/svg\+xml/);
  assert.equal((await get(jsonPath(inc.hostile), viewer)).status, 200);
  assertError(await get(svgPath(inc.hostile), null), 401, 'unauthorized');
  assertError(await get(jsonPath(inc.hostile), null), 401, 'unauthorized');
  assertError(await get(svgPath(inc.hostile), { bearer: respTok }), 403, 'forbidden', 'Requires Alerts: Read');
  const head = await as(srv.url, { bearer: tok }, 'HEAD', svgPath(inc.hostile));
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.ok(Number(head.headers['content-length']) > 1000);
});
