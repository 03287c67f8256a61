// Small DOM helpers shared by the page modules. Data from the server is
// only ever put into the page as text (textContent, attribute values), never
// parsed as HTML: every string the API returns is treated as hostile.

/**
 * Creates an element. `props` sets attributes (`class`, `aria-*`, `data-*`,
 * ...), boolean properties (`disabled`, `hidden`, `checked`) and `text`;
 * `children` are nodes or strings (added as text nodes).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'disabled' || k === 'hidden' || k === 'checked' || k === 'selected') node[k] = Boolean(v);
    else if (k === 'value') node.value = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** A table row with one cell per item (nodes or strings). */
export function row(...cells) {
  return el('tr', {}, ...cells.map((c) => (c instanceof Node && c.nodeName === 'TD' ? c : el('td', {}, c))));
}

/** Replaces a tbody's rows; shows `emptyText` in one spanning cell when none. */
export function fillBody(tbody, rows, emptyText) {
  const cols = tbody.closest('table').querySelectorAll('thead th').length || 1;
  if (rows.length === 0) {
    tbody.replaceChildren(el('tr', { class: 'empty-row' }, el('td', { colspan: cols, text: emptyText })));
  } else {
    tbody.replaceChildren(...rows);
  }
}

/** A timestamp cell: "2026-01-02 03:04 UTC", full ISO time in datetime/title. */
export function timeEl(iso, { seconds = false, none = 'never' } = {}) {
  if (!iso) return el('span', { class: 'muted', text: none });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el('span', { text: String(iso) });
  const s = d.toISOString();
  const shown = `${s.slice(0, 10)} ${s.slice(11, seconds ? 19 : 16)} UTC`;
  return el('time', { datetime: s, title: s, text: shown });
}

/** Shows `message` in a .form-error element (or hides it when empty). */
export function showError(box, message) {
  if (!box) return;
  box.textContent = message || '';
  box.hidden = !message;
}

/** The user-facing text for a failed API call. */
export function errorText(e) {
  if (e instanceof TypeError && e.status === undefined) return 'The server could not be reached.';
  return (e && e.message) || 'Something went wrong.';
}

/**
 * Sends the browser to sign in again when the session is gone (expired,
 * revoked, signed out elsewhere). Returns true when it did.
 */
export function handleSignedOut(e) {
  if (e && e.status === 401) {
    const here = window.location.pathname;
    window.location.assign(`/login?next=${encodeURIComponent(here)}`);
    return true;
  }
  return false;
}

/**
 * Asks for confirmation in the page's <dialog id="confirm-dialog">.
 * Resolves true when the user confirms; Escape or Cancel resolve false.
 */
export function confirmAction({ title, message, confirmLabel = 'Confirm', danger = false }) {
  const dlg = document.getElementById('confirm-dialog');
  if (!dlg || typeof dlg.showModal !== 'function') return Promise.resolve(window.confirm(message));
  dlg.querySelector('.confirm-title').textContent = title;
  dlg.querySelector('.confirm-message').textContent = message;
  const ok = dlg.querySelector('.confirm-ok');
  ok.textContent = confirmLabel;
  ok.classList.toggle('btn-danger-solid', danger);
  ok.classList.toggle('btn-primary', !danger);
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'confirm'), { once: true });
    dlg.showModal();
    dlg.querySelector('.confirm-cancel').focus();
  });
}

/** Wires the confirm dialog's buttons once. */
export function wireConfirmDialog() {
  const dlg = document.getElementById('confirm-dialog');
  if (!dlg) return;
  dlg.querySelector('.confirm-ok').addEventListener('click', () => dlg.close('confirm'));
  dlg.querySelector('.confirm-cancel').addEventListener('click', () => dlg.close('cancel'));
}
