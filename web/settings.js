// Settings page: users, roles and API tokens (administrators), and the
// signed-in user's own password (everyone). The server decides what each
// request may do; this module only renders what it answers.
import { api } from './api.js';
import {
  confirmAction, el, errorText, fillBody, handleSignedOut, row, showError, timeEl, wireConfirmDialog,
} from './ui.js';

/** The permissions, in the server's order, with their display names. */
export const PERMISSIONS = [
  { name: 'alerts:read', label: 'Alerts: Read' },
  { name: 'alerts:manage', label: 'Alerts: Manage' },
  { name: 'response:read', label: 'Response: Read' },
  { name: 'response:manage', label: 'Response: Manage' },
  { name: 'admin', label: 'Administration' },
];
const PERM_LABEL = new Map(PERMISSIONS.map((p) => [p.name, p.label]));

/** What a permission needs alongside it (the server refuses the set otherwise). */
const IMPLIES = {
  'alerts:manage': ['alerts:read'],
  'response:read': [],
  'response:manage': ['response:read', 'alerts:manage', 'alerts:read'],
};

const me = (document.querySelector('.user-name') || {}).dataset?.user || '';
const state = { roles: [] };

/** A list of permission names as a compact set of tags. */
function permTags(perms) {
  const list = el('ul', { class: 'perm-tags' });
  for (const p of perms || []) list.append(el('li', { text: PERM_LABEL.get(p) || p }));
  if (!perms || perms.length === 0) list.append(el('li', { class: 'muted', text: 'none' }));
  return list;
}

function failed(box, e) {
  if (handleSignedOut(e)) return;
  showError(box, errorText(e));
}

/** Disables a form's controls while `work` runs. */
async function busy(form, work) {
  const controls = [...form.querySelectorAll('button, input, select')];
  const was = controls.map((c) => c.disabled);
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => { c.disabled = was[i]; });
    form.removeAttribute('aria-busy');
  }
}

// ------------------------------------------------------------ permissions

/** Fills a form's permission fieldset with one labelled checkbox each. */
function fillPermBoxes(form) {
  const set = form.querySelector('fieldset.perm-boxes');
  const prefix = form.id;
  for (const p of PERMISSIONS) {
    const id = `${prefix}-perm-${p.name.replace(':', '-')}`;
    const box = el('input', { type: 'checkbox', name: 'permissions', value: p.name, id });
    set.append(el('label', { for: id, class: 'check' }, box, p.label));
  }
  // Keep the set one the server accepts: a Manage needs its Read, and
  // Response: Manage needs Alerts: Manage.
  set.addEventListener('change', (ev) => {
    const t = ev.target;
    if (!(t instanceof HTMLInputElement) || t.type !== 'checkbox') return;
    const boxes = new Map([...set.querySelectorAll('input[type=checkbox]')].map((b) => [b.value, b]));
    if (t.checked) {
      for (const need of IMPLIES[t.value] || []) boxes.get(need).checked = true;
    } else {
      for (const [name, needs] of Object.entries(IMPLIES)) {
        if (needs.includes(t.value)) boxes.get(name).checked = false;
      }
    }
  });
}

/** Hides a form's error as soon as the user edits the form again. */
function clearErrorOnEdit(form) {
  const error = form.querySelector('.form-error');
  form.addEventListener('input', () => showError(error, ''));
}

function checkedPerms(form) {
  return [...form.querySelectorAll('input[name=permissions]:checked')].map((b) => b.value);
}

// ------------------------------------------------------------ roles

function roleOptions(select, selected) {
  select.replaceChildren(...state.roles.map((r) =>
    el('option', { value: r.name, text: r.name, selected: r.name === selected })));
}

async function loadRoles() {
  const { items } = await api('GET', '/api/v1/roles');
  state.roles = items;
  const tbody = document.querySelector('#roles-table tbody');
  fillBody(tbody, items.map((r) => row(
    el('td', {}, el('span', { class: 'cell-title', text: r.name }),
      r.description ? el('span', { class: 'cell-sub', text: r.description }) : null),
    permTags(r.permissions),
    el('span', { class: r.builtin ? 'badge' : 'badge badge-custom', text: r.builtin ? 'built-in' : 'custom' }),
  )), 'No roles');
  const userRole = document.querySelector('#user-form select[name=role]');
  const keep = userRole.value || 'viewer';
  roleOptions(userRole, keep);
}

function wireRoleForm() {
  const form = document.getElementById('role-form');
  const error = form.querySelector('.form-error');
  clearErrorOnEdit(form);
  fillPermBoxes(form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(error, '');
    const body = { name: form.elements.name.value.trim(), permissions: checkedPerms(form) };
    const description = form.elements.description.value.trim();
    if (description) body.description = description;
    await busy(form, async () => {
      try {
        await api('POST', '/api/v1/roles', body);
        form.reset();
        // The users' role selects list the roles: roles first.
        await loadRoles();
        await loadUsers();
      } catch (e) {
        failed(error, e);
      }
    });
  });
}

// ------------------------------------------------------------ users

async function patchUser(name, change, focusSel) {
  const error = document.getElementById('users-error');
  showError(error, '');
  try {
    await api('PATCH', `/api/v1/users/${encodeURIComponent(name)}`, change);
  } catch (e) {
    failed(error, e);
    return;
  }
  await loadUsers().catch((e) => failed(error, e));
  // Keep the keyboard where it was: the re-rendered row's control.
  const next = document.querySelector(`#users-table tr[data-user="${CSS.escape(name)}"] ${focusSel}`);
  if (next) next.focus();
}

function userRow(u) {
  const self = u.username === me;
  const selectId = `role-of-${u.id}`;
  const select = el('select', { id: selectId, class: 'role-select', 'aria-label': `Role for ${u.username}`, disabled: self });
  roleOptions(select, u.role);
  if (!state.roles.some((r) => r.name === u.role)) select.prepend(el('option', { value: u.role, text: u.role, selected: true }));
  const change = el('button', {
    type: 'button', class: 'btn btn-small act-role', disabled: true,
    'aria-label': `Change role of ${u.username}`, text: 'Change role',
  });
  select.addEventListener('change', () => { change.disabled = self || select.value === u.role; });
  change.addEventListener('click', async () => {
    const to = select.value;
    const ok = await confirmAction({
      title: 'Change role',
      message: `Change ${u.username}'s role from ${u.role} to ${to}? They will be signed out of every session.`,
      confirmLabel: 'Change role',
    });
    if (ok) await patchUser(u.username, { role: to }, 'select.role-select');
    else select.focus();
  });

  const toggle = el('button', {
    type: 'button',
    class: `btn btn-small act-toggle${u.disabled ? '' : ' btn-danger'}`,
    'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.username}`,
    text: u.disabled ? 'Enable' : 'Disable',
    disabled: self,
    title: self ? 'This is you: another administrator must change your account' : null,
  });
  toggle.addEventListener('click', async () => {
    const ok = await confirmAction(u.disabled
      ? { title: 'Enable user', message: `Enable ${u.username}? They will be able to sign in again.`, confirmLabel: 'Enable' }
      : { title: 'Disable user', message: `Disable ${u.username}? They are signed out at once and cannot sign in.`, confirmLabel: 'Disable', danger: true });
    if (ok) await patchUser(u.username, { disabled: !u.disabled }, '.act-toggle');
    else toggle.focus();
  });

  const name = el('td', {}, el('span', { class: 'cell-title', text: u.username }),
    self ? el('span', { class: 'cell-sub', text: 'you' }) : null);
  const tr = row(
    name,
    el('td', {}, el('div', { class: 'cell-inline' }, select, change)),
    el('span', { class: u.disabled ? 'status status-off' : 'status status-on', text: u.disabled ? 'disabled' : 'active' }),
    timeEl(u.last_login_at),
    el('td', { class: 'actions' }, toggle),
  );
  tr.dataset.user = u.username;
  if (u.disabled) tr.classList.add('row-disabled');
  return tr;
}

async function loadUsers() {
  const { items } = await api('GET', '/api/v1/users');
  fillBody(document.querySelector('#users-table tbody'), items.map(userRow), 'No users');
}

function wireUserForm() {
  const form = document.getElementById('user-form');
  const error = form.querySelector('.form-error');
  clearErrorOnEdit(form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(error, '');
    const body = {
      username: form.elements.username.value.trim(),
      role: form.elements.role.value,
      password: form.elements.password.value,
    };
    await busy(form, async () => {
      try {
        await api('POST', '/api/v1/users', body);
        form.reset();
        roleOptions(form.elements.role, 'viewer');
        await loadUsers();
      } catch (e) {
        failed(error, e);
      }
    });
  });
}

// ------------------------------------------------------------ tokens

function tokenRow(t) {
  const active = t.status === 'active';
  const revoke = el('button', {
    type: 'button', class: 'btn btn-small btn-danger act-revoke', text: 'Revoke',
    'aria-label': `Revoke token ${t.name}`, disabled: !active,
  });
  revoke.addEventListener('click', async () => {
    const ok = await confirmAction({
      title: 'Revoke token',
      message: `Revoke the token ${t.name} (${t.prefix}…)? Anything using it stops working at once.`,
      confirmLabel: 'Revoke', danger: true,
    });
    if (!ok) { revoke.focus(); return; }
    const error = document.getElementById('tokens-error');
    showError(error, '');
    try {
      await api('DELETE', `/api/v1/tokens/${encodeURIComponent(t.id)}`);
      await loadTokens();
      document.querySelector('#tokens-h').scrollIntoView({ block: 'nearest' });
    } catch (e) {
      failed(error, e);
    }
  });
  const tr = row(
    el('td', {}, el('span', { class: 'cell-title', text: t.name }),
      t.created_by ? el('span', { class: 'cell-sub', text: `by ${t.created_by}` }) : null),
    el('code', { class: 'token-prefix', text: `${t.prefix}…` }),
    permTags(t.permissions),
    t.cluster ? el('span', { text: t.cluster }) : el('span', { class: 'muted', text: 'any' }),
    el('span', { class: `status status-${active ? 'on' : 'off'}`, text: t.status }),
    timeEl(t.expires_at, { none: 'never' }),
    timeEl(t.last_used_at, { none: 'never' }),
    el('td', { class: 'actions' }, revoke),
  );
  tr.dataset.token = String(t.id);
  if (!active) tr.classList.add('row-disabled');
  return tr;
}

async function loadTokens() {
  const { items } = await api('GET', '/api/v1/tokens');
  fillBody(document.querySelector('#tokens-table tbody'), items.map(tokenRow), 'No API tokens');
}

function hideSecret() {
  const box = document.getElementById('token-secret');
  document.getElementById('token-secret-value').textContent = '';
  document.getElementById('token-secret-status').textContent = '';
  box.hidden = true;
}

function showSecret(secret) {
  const box = document.getElementById('token-secret');
  document.getElementById('token-secret-value').textContent = secret;
  document.getElementById('token-secret-status').textContent = '';
  box.hidden = false;
  box.focus();
}

function wireSecretBox() {
  const value = document.getElementById('token-secret-value');
  const status = document.getElementById('token-secret-status');
  document.getElementById('token-secret-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value.textContent);
      status.textContent = 'Copied.';
    } catch {
      // No clipboard access (permission, insecure context): select the
      // text so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(value);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = 'Selected: press Ctrl+C to copy.';
    }
  });
  document.getElementById('token-secret-done').addEventListener('click', () => {
    hideSecret();
    document.querySelector('#token-form input[name=name]').focus();
  });
}

function wireTokenForm() {
  const form = document.getElementById('token-form');
  const error = form.querySelector('.form-error');
  clearErrorOnEdit(form);
  fillPermBoxes(form);
  wireSecretBox();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(error, '');
    hideSecret();
    const body = { name: form.elements.name.value.trim(), permissions: checkedPerms(form) };
    const ttl = form.elements.ttl.value.trim();
    const cluster = form.elements.cluster.value.trim();
    if (ttl) body.ttl = ttl;
    if (cluster) body.cluster = cluster;
    let created = null;
    await busy(form, async () => {
      try {
        created = await api('POST', '/api/v1/tokens', body);
        form.reset();
        await loadTokens();
      } catch (e) {
        failed(error, e);
      }
    });
    if (created && created.token) showSecret(created.token);
  });
}

// ------------------------------------------------------------ own password

function wirePasswordForm() {
  const form = document.getElementById('password-form');
  if (!form) return;
  const error = form.querySelector('.form-error');
  clearErrorOnEdit(form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(error, '');
    const body = {
      current_password: form.elements.current_password.value,
      new_password: form.elements.new_password.value,
    };
    const done = await busy(form, async () => {
      try {
        await api('POST', '/api/v1/auth/password', body);
        return true;
      } catch (e) {
        // A wrong current password is 401/403 here, not a lost session.
        showError(error, errorText(e));
        form.elements.current_password.value = '';
        form.elements.current_password.focus();
        return false;
      }
    });
    // Every session ends with a password change: sign in again.
    if (done) window.location.replace('/login?next=/settings');
  });
}

// ------------------------------------------------------------ start

async function startAdmin() {
  wireConfirmDialog();
  wireUserForm();
  wireRoleForm();
  wireTokenForm();
  const errors = {
    users: document.getElementById('users-error'),
    roles: document.querySelector('#role-form .form-error'),
    tokens: document.getElementById('tokens-error'),
  };
  // Roles first: the user rows' role selects list them.
  try {
    await loadRoles();
  } catch (e) {
    failed(errors.roles, e);
  }
  await Promise.all([
    loadUsers().catch((e) => failed(errors.users, e)),
    loadTokens().catch((e) => failed(errors.tokens, e)),
  ]);
}

wirePasswordForm();
if (document.getElementById('settings-admin')) startAdmin();
