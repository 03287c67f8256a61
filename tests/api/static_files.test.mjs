// Static files from static/ and web/: MIME types, validators and
// conditional requests, no directory listing, no hidden files, and no way
// out of the asset tree (dot segments, encodings, backslashes, NUL,
// symlinks, overlong paths).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  SOURCE_DIR, startServer, get, rawRequest, rawGet, makeTempDir,
} from './lib/server.mjs';
import { assertSecurityHeaders, assertErrorEnvelope, copyAssets } from './lib/checks.mjs';

// The server runs on a copy of the assets so that tests can plant hidden
// files, symlinks and changed files without touching the source tree.
let srv;
let assets;
before(async () => {
  assets = copyAssets(path.join(makeTempDir(), 'assets'));
  fs.writeFileSync(path.join(assets, 'static', '.hidden'), 'secret-hidden\n');
  fs.mkdirSync(path.join(assets, 'static', '.git'));
  fs.writeFileSync(path.join(assets, 'static', '.git', 'config'), 'secret-git\n');
  fs.writeFileSync(path.join(assets, 'static', 'css', '.app.css.swp'), 'secret-swap\n');
  fs.symlinkSync('/etc/passwd', path.join(assets, 'static', 'passwd.txt'));
  fs.symlinkSync('/etc', path.join(assets, 'static', 'etc'));
  fs.writeFileSync(path.join(assets, 'secret.txt'), 'secret-root\n');
  fs.writeFileSync(path.join(assets, 'static', 'changing.txt'), 'version one\n');
  srv = await startServer({ args: ['--assets-dir', assets] });
});
after(async () => { await srv?.stop(); });

const SECRET = /root:|secret-|\{\{/;

test('files are served with the right MIME type and exact content', async () => {
  const cases = [
    ['/static/css/app.css', 'static/css/app.css', /^text\/css(;|$)/],
    ['/web/app.js', 'web/app.js', /^text\/javascript(;|$)/],
    ['/static/icons/logo.svg', 'static/icons/logo.svg', /^image\/svg\+xml(;|$)/],
  ];
  for (const [url, file, type] of cases) {
    const r = await get(srv.url + url);
    assert.equal(r.status, 200, url);
    assert.match(r.headers.get('content-type'), type, url);
    const body = Buffer.from(await r.arrayBuffer());
    assert.ok(body.equals(fs.readFileSync(path.join(SOURCE_DIR, file))), `${url}: content differs`);
    assert.equal(Number(r.headers.get('content-length')), body.length, url);
    assert.match(r.headers.get('etag') ?? '', /^(W\/)?"[^"]+"$/, `${url}: ETag`);
    const lm = r.headers.get('last-modified');
    assert.ok(lm && !Number.isNaN(Date.parse(lm)), `${url}: Last-Modified "${lm}"`);
    assert.ok(r.headers.get('cache-control'), `${url}: Cache-Control`);
    assertSecurityHeaders(r.headers, url);
  }
});

test('every file under static/ and web/ is served', async () => {
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
  for (const top of ['static', 'web']) {
    for (const f of walk(path.join(SOURCE_DIR, top))) {
      const rel = path.relative(SOURCE_DIR, f);
      if (rel.split(path.sep).some((seg) => seg.startsWith('.'))) continue;
      const r = await get(`${srv.url}/${rel}`);
      await r.arrayBuffer();
      assert.equal(r.status, 200, rel);
      assert.notEqual(r.headers.get('content-type'), 'application/octet-stream', `${rel}: MIME type`);
    }
  }
});

test('If-None-Match with the ETag gives 304 without a body', async () => {
  const r = await get(`${srv.url}/static/css/app.css`);
  await r.arrayBuffer();
  const etag = r.headers.get('etag');
  for (const inm of [etag, `"nope", ${etag}`, '*']) {
    const c = await rawRequest(srv.url, rawGet('/static/css/app.css', { headers: { 'If-None-Match': inm } }));
    assert.equal(c.status, 304, `If-None-Match: ${inm}`);
    assert.equal(c.raw.slice(c.raw.indexOf('\r\n\r\n') + 4), '', '304 carries no body');
    assert.equal(c.headers.etag, etag);
    assertSecurityHeaders(c.headers, '304');
  }
  const stale = await get(`${srv.url}/static/css/app.css`, { headers: { 'if-none-match': '"stale"' } });
  assert.equal(stale.status, 200);
  assert.ok((await stale.text()).length > 0);
});

test('If-Modified-Since gives 304 when the file is not newer, 200 when it is', async () => {
  const r = await get(`${srv.url}/web/app.js`);
  await r.arrayBuffer();
  const lm = r.headers.get('last-modified');
  const same = await get(`${srv.url}/web/app.js`, { headers: { 'if-modified-since': lm } });
  assert.equal(same.status, 304);
  assert.equal((await same.arrayBuffer()).byteLength, 0);
  const later = new Date(Date.parse(lm) + 86400e3).toUTCString();
  assert.equal((await get(`${srv.url}/web/app.js`, { headers: { 'if-modified-since': later } })).status, 304);
  const earlier = new Date(Date.parse(lm) - 86400e3).toUTCString();
  const old = await get(`${srv.url}/web/app.js`, { headers: { 'if-modified-since': earlier } });
  assert.equal(old.status, 200);
  assert.ok((await old.text()).length > 0);
  const junk = await get(`${srv.url}/web/app.js`, { headers: { 'if-modified-since': 'yesterday-ish' } });
  assert.equal(junk.status, 200, 'an unparsable date is ignored');
  await junk.arrayBuffer();
});

// RFC 9110 section 8.6: a 304 must not carry a Content-Length other than
// the length of the 200 body it stands for; "0" tells caches the file is
// empty.
test('a 304 does not claim Content-Length: 0', async () => {
  const r = await get(`${srv.url}/static/css/app.css`);
  const len = (await r.arrayBuffer()).byteLength;
  const c = await rawRequest(srv.url, rawGet('/static/css/app.css',
                                            { headers: { 'If-None-Match': r.headers.get('etag') } }));
  assert.equal(c.status, 304);
  if ('content-length' in c.headers) {
    assert.equal(Number(c.headers['content-length']), len,
                 `304 says Content-Length: ${c.headers['content-length']}, the file has ${len} bytes`);
  }
});

test('a changed file gets a new ETag and the new content', async () => {
  const f = path.join(assets, 'static', 'changing.txt');
  const r1 = await get(`${srv.url}/static/changing.txt`);
  assert.equal(await r1.text(), 'version one\n');
  fs.writeFileSync(f, 'version two, longer\n');
  const r2 = await get(`${srv.url}/static/changing.txt`, { headers: { 'if-none-match': r1.headers.get('etag') } });
  assert.equal(r2.status, 200, 'the old ETag no longer matches');
  assert.equal(await r2.text(), 'version two, longer\n');
  assert.notEqual(r2.headers.get('etag'), r1.headers.get('etag'));
});

test('HEAD on a file sends the headers only', async () => {
  const h = await rawRequest(srv.url, rawGet('/static/css/app.css', { method: 'HEAD' }));
  assert.equal(h.status, 200);
  assert.equal(Number(h.headers['content-length']),
               fs.statSync(path.join(SOURCE_DIR, 'static/css/app.css')).size);
  assert.equal(h.raw.slice(h.raw.indexOf('\r\n\r\n') + 4), '');
  assert.ok(h.headers.etag);
});

test('directories get 404 and no listing', async () => {
  for (const p of ['/static/', '/static', '/static/css/', '/static/css', '/web/', '/web',
                   '/static/icons/', '/static/etc/', '/static/etc']) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(r.body, /app\.css|logo\.svg|Index of|<a href/i, `${p} lists files`);
    assertErrorEnvelope(r.body, p);
    assertSecurityHeaders(r.headers, p);
  }
});

test('hidden files and folders get 404', async () => {
  for (const p of ['/static/.hidden', '/static/.git/config', '/static/css/.app.css.swp',
                   '/static/%2ehidden', '/static/.git/', '/web/.', '/static/.%2e/secret.txt']) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
    assert.doesNotMatch(r.body, SECRET, p);
    assertSecurityHeaders(r.headers, p);
  }
});

test('symlinks leading out of the asset tree are not followed', async () => {
  for (const p of ['/static/passwd.txt', '/static/etc/passwd', '/static/etc/hostname']) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(r.body, SECRET, p);
  }
});

test('only static/ and web/ are served, not the rest of the asset tree', async () => {
  for (const p of ['/templates/pages/incidents.html', '/secret.txt', '/static/../secret.txt',
                   '/web/../templates/partials/layout_begin.html']) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
    assert.doesNotMatch(r.body, SECRET, p);
  }
});

const TRAVERSALS = [
  '/static/../../etc/passwd',
  '/static/../../../../../../../../etc/passwd',
  '/web/../../etc/passwd',
  '/static/%2e%2e/%2e%2e/etc/passwd',
  '/static/%2E%2E/%2E%2E/etc/passwd',
  '/static/..%2f..%2fetc%2fpasswd',
  '/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  '/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/static/%252e%252e/%252e%252e/etc/passwd',
  '/static/.%2e/.%2e/etc/passwd',
  '/web/....//....//etc/passwd',
  '/web/..../..../etc/passwd',
  '/static/..\\..\\etc\\passwd',
  '/static\\..\\..\\etc\\passwd',
  '/static/%5c..%5c..%5cetc%5cpasswd',
  '/static/..%5c..%5cetc%5cpasswd',
  '/static/..%c0%af..%c0%afetc%c0%afpasswd',
  '/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
  '/static/..;/..;/etc/passwd',
  '/static/css/../../../etc/passwd',
  '/static/./../etc/passwd',
  '//etc/passwd',
  '/static//etc/passwd',
  '/static/%2fetc%2fpasswd',
  '/etc/passwd',
];

test('path traversal gets 400 or 404 and never a file outside the tree', async () => {
  for (const p of TRAVERSALS) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.ok(r.status === 400 || r.status === 404, `${p}: status ${r.status}`);
    assert.doesNotMatch(r.body, SECRET, `${p} leaked a file`);
    assertErrorEnvelope(r.body, p);
    assertSecurityHeaders(r.headers, p);
  }
  // Still serving normally afterwards.
  assert.equal((await get(`${srv.url}/healthz`)).status, 200);
});

// civetweb decodes %00 into a NUL byte, which ends the C string: without a
// check, "app.css%00.png" is served as app.css, and "secret%00.css" style
// tricks defeat any suffix check.
test('a NUL byte (%00) in the path gets 400 or 404', async () => {
  for (const p of ['/static/css/app.css%00', '/static/css/app.css%00.png', '/web/app.js%00.map',
                   '/static/%00/css/app.css', '/static/../../etc/passwd%00.css', '/healthz%00']) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.ok(r.status === 400 || r.status === 404, `${p}: status ${r.status}`);
    assert.doesNotMatch(r.body, SECRET, p);
    assert.doesNotMatch(r.body, /Stockade console|markCurrentNav/, `${p} was served as the file before the NUL`);
    assertSecurityHeaders(r.headers, p);
  }
});

test('overlong and odd paths are refused cleanly', async () => {
  const cases = [
    `/static/${'a'.repeat(300)}.css`,
    `/static/${'a/'.repeat(2000)}x.css`,
    `/static/${'../'.repeat(2000)}etc/passwd`,
    `/web/${'%2e%2e/'.repeat(1500)}etc/passwd`,
    `/static/css/${'x'.repeat(7000)}`,
    '/static/css/app.css/',
    '/static/css/app.css/.',
    '/static/ css/app.css',
    '/static/css/app%20.css',
    '/static/%ff%fe.css',
    '/static/%zz.css',
    '/static/%',
  ];
  for (const p of cases) {
    const r = await rawRequest(srv.url, rawGet(p));
    assert.ok(r.status >= 400 && r.status < 500, `${p.slice(0, 60)}...: status ${r.status}`);
    assert.doesNotMatch(r.body, SECRET);
    assertSecurityHeaders(r.headers, p.slice(0, 60));
  }
  assert.equal((await get(`${srv.url}/healthz`)).status, 200, 'the server is still healthy');
});
