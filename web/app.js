// Stockade console entry module: loaded by every page of the shell.
// Pages are server-rendered; this module adds behaviour on top.

/** Marks the navigation entry for the current path, for pages reached by
 *  paths the server did not mark (for example after history navigation). */
export function markCurrentNav(doc = document) {
  const here = doc.location.pathname;
  for (const a of doc.querySelectorAll('.sidenav a[href]')) {
    const on = here === a.getAttribute('href') || here.startsWith(a.getAttribute('href') + '/');
    a.classList.toggle('current', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

markCurrentNav();
