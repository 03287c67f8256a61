// Stockade console entry module: loaded by every page of the shell.
// Pages are server-rendered; this module adds behaviour on top.
import { api, applyPermissionGates } from './api.js';

/** Marks the navigation entry for the current path. */
export function markCurrentNav(doc = document) {
  const here = doc.location.pathname;
  for (const a of doc.querySelectorAll('.sidenav a[href]')) {
    const href = a.getAttribute('href');
    const on = here === href || here.startsWith(href + '/');
    a.classList.toggle('current', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function wireSignOut(doc = document) {
  const btn = doc.getElementById('sign-out');
  if (!btn) return;
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await api('POST', '/api/v1/auth/logout');
    } finally {
      // replace(): the signed-in page must not stay in history.
      doc.location.replace('/login');
    }
  });
}

// A page restored from the back/forward cache after sign-out must not show
// protected content: ask the server again.
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted) window.location.reload();
});

markCurrentNav();
wireSignOut();
applyPermissionGates();
