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

/** Labels of the permissions, as the server names them in refusals. */
export const PERMISSION_LABELS = {
  'alerts:read': 'Alerts: Read',
  'alerts:manage': 'Alerts: Manage',
  'response:read': 'Response: Read',
  'response:manage': 'Response: Manage',
  admin: 'Administration',
};

/**
 * The first permission of `required` (a list of names) that `have` lacks,
 * as the refusal the server would give ("Requires Response: Manage"), or
 * null when nothing is missing. Response: Manage also needs Alerts: Manage
 * (SPEC 5), exactly as svc_auth_allows() decides on the server.
 */
export function missingPermission(required, have) {
  const need = [...required];
  if (need.includes('response:manage') && !need.includes('alerts:manage')) need.push('alerts:manage');
  for (const p of need) {
    if (!have.has(p)) return `Requires ${PERMISSION_LABELS[p] || p}`;
  }
  return null;
}

/**
 * Greys out every control marked data-requires="perm[,perm]" that the
 * signed-in user may not use, and says why: the reason goes into the
 * title, into aria-describedby, and into a visible .requires-reason note
 * after the control. The server refuses such requests anyway; this only
 * spares the user the round trip.
 */
export function applyPermissionGates(root = document, have = permissions(root.ownerDocument || root)) {
  for (const ctl of root.querySelectorAll('[data-requires]')) {
    const required = ctl.dataset.requires.split(',').map((s) => s.trim()).filter(Boolean);
    const reason = missingPermission(required, have);
    if (!reason) continue;
    ctl.disabled = true;
    ctl.setAttribute('aria-disabled', 'true');
    ctl.title = reason;
    let note = ctl.nextElementSibling;
    if (!note || !note.classList.contains('requires-reason')) {
      note = (root.ownerDocument || root).createElement('span');
      note.className = 'requires-reason';
      note.id = `requires-${Math.random().toString(36).slice(2, 10)}`;
      ctl.after(note);
    }
    note.textContent = reason;
    ctl.setAttribute('aria-describedby', note.id);
  }
}
