// Fetch wrapper for the JSON API: sends the CSRF token on state-changing
// requests and turns the error envelope into an Error with .status/.code.

export function csrfToken(doc = document) {
  const m = doc.querySelector('meta[name="csrf-token"]');
  return m ? m.getAttribute('content') : '';
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = new Error((data && data.error && data.error.message) || `HTTP ${res.status}`);
    e.status = res.status;
    e.code = data && data.error ? data.error.code : '';
    throw e;
  }
  return data;
}

/** The signed-in user's permissions, from the page. */
export function permissions(doc = document) {
  const v = doc.body.dataset.permissions || '';
  return new Set(v.split(',').filter(Boolean));
}
