// The application shell: / redirects to /incidents, every page of the
// navigation renders with the shared layout, marks itself current, loads
// scripts and styles only from files (the CSP allows nothing inline), and
// every asset it references exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, get, rawRequest, rawGet } from './lib/server.mjs';
import { assertSecurityHeaders, pageHeaders } from './lib/checks.mjs';

const PAGES = [
  ['/incidents', 'Incidents'],
  ['/action-center', 'Action center'],
  ['/hunting', 'Hunting'],
  ['/attack-paths', 'Attack paths'],
  ['/settings', 'Settings'],
];

let srv;
let hdrs; // what a signed-in browser sends ({} while pages are public)
before(async () => {
  srv = await startServer();
  hdrs = await pageHeaders(srv);
});
after(async () => { await srv?.stop(); });

/** The attributes of every <tag ...> in `html`, as objects. */
function tags(html, name) {
  const out = [];
  const re = new RegExp(`<${name}\\b([^>]*)>`, 'gi');
  for (const m of html.matchAll(re)) {
    const attrs = {};
    for (const a of m[1].matchAll(/([^\s=/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
      attrs[a[1].toLowerCase()] = a[2] ?? a[3] ?? a[4] ?? '';
    }
    out.push({ attrs, index: m.index, text: m[0] });
  }
  return out;
}

test('GET / redirects to /incidents', async () => {
  const r = await get(`${srv.url}/`, { headers: hdrs });
  assert.ok([301, 302, 303, 307, 308].includes(r.status), `status ${r.status}`);
  assert.equal(new URL(r.headers.get('location'), srv.url).pathname, '/incidents');
  assertSecurityHeaders(r.headers, 'GET /');
  const followed = await fetch(`${srv.url}/`, { headers: hdrs, signal: AbortSignal.timeout(20000) });
  assert.equal(followed.status, 200);
  assert.equal(new URL(followed.url).pathname, '/incidents');
  await followed.arrayBuffer();
});

test('every navigation page renders with the layout and the navigation', async () => {
  for (const [p, label] of PAGES) {
    const r = await get(srv.url + p, { headers: hdrs });
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8', p);
    assert.equal(r.headers.get('cache-control'), 'no-store', p);
    assertSecurityHeaders(r.headers, p);
    const html = await r.text();
    assert.match(html, /^<!doctype html>/i, p);
    assert.match(html, /<html lang="[a-z-]+">/, p);
    assert.match(html, /<meta charset="utf-8">/i, p);
    assert.match(html, new RegExp(`<title>${label}[^<]*Stockade</title>`), `${p}: title`);
    assert.match(html, new RegExp(`<h1>${label}</h1>`), `${p}: heading`);
    assert.doesNotMatch(html, /\{\{|\}\}/, `${p}: an unrendered template tag`);

    const nav = html.slice(html.indexOf('<nav'), html.indexOf('</nav>'));
    assert.ok(nav.length > 0, `${p}: no <nav>`);
    const links = tags(nav, 'a');
    assert.deepEqual(links.map((a) => a.attrs.href), PAGES.map(([href]) => href), `${p}: nav links`);
    for (const [href, text] of PAGES) {
      assert.match(nav, new RegExp(`href="${href}"[^>]*>.*?${text}`), `${p}: nav label ${text}`);
    }
    const current = links.filter((a) => a.attrs['aria-current'] === 'page');
    assert.equal(current.length, 1, `${p}: exactly one current nav entry`);
    assert.equal(current[0].attrs.href, p, `${p}: the current entry is the page itself`);
  }
});

test('pages have no inline script, style or event handler', async () => {
  for (const [p] of PAGES) {
    const html = await (await get(srv.url + p, { headers: hdrs })).text();
    const scripts = tags(html, 'script');
    assert.ok(scripts.length >= 1, `${p}: no script at all`);
    for (const s of scripts) {
      assert.ok(s.attrs.src, `${p}: inline <script> ${s.text}`);
      const close = html.indexOf('</script>', s.index);
      assert.equal(html.slice(s.index + s.text.length, close).trim(), '', `${p}: script with a body`);
    }
    assert.doesNotMatch(html, /<style\b/i, `${p}: inline <style>`);
    assert.doesNotMatch(html, /\sstyle\s*=/i, `${p}: style attribute`);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, `${p}: inline event handler`);
    assert.doesNotMatch(html, /javascript:/i, `${p}: javascript: URL`);
  }
});

test('every asset a page references is served', async () => {
  const html = await (await get(`${srv.url}/incidents`, { headers: hdrs })).text();
  const refs = new Set();
  for (const [tag, attr] of [['script', 'src'], ['link', 'href'], ['img', 'src']]) {
    for (const t of tags(html, tag)) {
      const v = t.attrs[attr];
      if (v && v.startsWith('/')) refs.add(v);
    }
  }
  assert.ok(refs.has('/static/css/app.css'));
  assert.ok(refs.has('/web/app.js'));
  for (const ref of refs) {
    const r = await get(srv.url + ref);
    assert.equal(r.status, 200, ref);
    await r.arrayBuffer();
    if (ref.endsWith('.js')) assert.match(r.headers.get('content-type'), /^text\/javascript/);
    if (ref.endsWith('.css')) assert.match(r.headers.get('content-type'), /^text\/css/);
    if (ref.endsWith('.svg')) assert.match(r.headers.get('content-type'), /^image\/svg\+xml/);
  }
});

test('HEAD on a page and unknown pages', async () => {
  const h = await rawRequest(srv.url, rawGet('/settings', { method: 'HEAD', headers: hdrs }));
  assert.equal(h.status, 200);
  assert.match(h.headers['content-type'], /^text\/html/);
  assert.equal(h.raw.slice(h.raw.indexOf('\r\n\r\n') + 4), '');
  for (const p of ['/incidents/', '/settings/x', '/Incidents', '/index.html']) {
    const r = await get(srv.url + p, { headers: hdrs });
    assert.equal(r.status, 404, p);
    await r.arrayBuffer();
    assertSecurityHeaders(r.headers, p);
  }
});
