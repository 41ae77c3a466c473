// users.js manages the people who sign in: create, change role, reset
// password, delete. Admins only (UserService); the server keeps the last
// admin from being demoted or deleted and says so.

import { canAdminister, lockNote } from '../access.js';
import { api, commented } from '../api.js';
import { h, field, select, fmtTime } from '../dom.js';
import { errorBanner, showFieldErrors, clearFieldErrors, toast, confirmDialog } from '../ui.js';

const roles = [['viewer', 'viewer: read only'], ['editor', 'editor: flags, segments, unprotected environments'], ['admin', 'admin: everything']];

export async function render(root, _params, ctx) {
  const why = canAdminister(ctx.session?.me);
  if (why) { root.append(h('h1', {}, 'Users'), lockNote(why)); return; }
  const users = (await api.listUsers()).users || [];
  const msg = h('div');
  const rows = users.map((u) => userRow(u, msg, ctx));
  root.append(h('h1', {}, 'Users'), msg, newUserForm(msg, ctx),
    h('div', { class: 'table-wrap' }, h('table', { class: 'users' },
      h('thead', {}, h('tr', {}, ['User', 'Role', 'Created', 'Password', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows))));
}

function newUserForm(msg, ctx) {
  const username = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
  const password = h('input', { type: 'password', autocomplete: 'new-password' });
  const role = select(roles, 'viewer', {});
  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'user-new' },
    h('h2', { id: 'user-new' }, 'New user'),
    h('div', { class: 'row' },
      field('Username', username, { fieldPath: 'username' }),
      field('Password', password, { fieldPath: 'password', hint: 'At least 12 characters.' }),
      field('Role', role, { fieldPath: 'role' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', dataset: { action: 'create-user' } }, 'Create user')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    errorBanner(msg, null);
    try {
      await api.createUser({ username: username.value.trim(), password: password.value, role: role.value });
      toast(`User ${username.value.trim()} created`);
      ctx.navigate('#/users');
    } catch (err) {
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) errorBanner(msg, err);
    }
  });
  return form;
}

function userRow(u, msg, ctx) {
  const self = u.username === ctx.session?.me?.name;
  const role = select(roles.map(([v]) => v), u.role, { 'aria-label': `Role of ${u.username}`, dataset: { userRole: u.username } });
  role.addEventListener('change', async () => {
    const yes = await confirmDialog({
      title: `Make ${u.username} ${role.value}?`,
      body: `${u.username} will be ${roles.find(([v]) => v === role.value)[1]}.`, confirm: 'Change role', comment: 'optional',
    });
    if (!yes) { role.value = u.role; return; }
    try {
      await commented(yes.comment).setRole(u.username, role.value);
      toast(`${u.username} is ${role.value}`);
      ctx.navigate('#/users');
    } catch (err) { role.value = u.role; errorBanner(msg, err); }
  });
  const pw = h('input', { type: 'password', autocomplete: 'new-password', 'aria-label': `New password for ${u.username}` });
  const reset = h('button', { type: 'button', class: 'secondary small', dataset: { resetPassword: u.username } }, 'Reset password');
  reset.addEventListener('click', async () => {
    const yes = await confirmDialog({ title: `Reset the password of ${u.username}?`, body: `${u.username}'s other sessions end.`, confirm: 'Reset password', comment: 'optional' });
    if (!yes) return;
    try {
      await commented(yes.comment).setPassword(u.username, pw.value);
      pw.value = '';
      toast(`Password of ${u.username} reset`);
    } catch (err) { errorBanner(msg, err); }
  });
  const del = h('button', { type: 'button', class: 'secondary small', dataset: { deleteUser: u.username } }, 'Delete');
  del.setAttribute('aria-label', `Delete user ${u.username}`);
  if (self) { del.disabled = true; del.title = 'you cannot delete yourself here'; }
  del.addEventListener('click', async () => {
    const yes = await confirmDialog({ title: `Delete ${u.username}?`, body: `${u.username} can no longer sign in; their sessions end now.`, confirm: 'Delete', danger: true, comment: 'optional' });
    if (!yes) return;
    try { await commented(yes.comment).deleteUser(u.username); toast(`${u.username} deleted`); ctx.navigate('#/users'); } catch (err) { errorBanner(msg, err); }
  });
  return h('tr', { dataset: { user: u.username } },
    h('td', { class: 'key' }, h('code', {}, u.username), self ? h('span', { class: 'name' }, 'you') : null),
    h('td', {}, role),
    h('td', {}, fmtTime(u.createTime)),
    h('td', {}, h('div', { class: 'row' }, pw, reset)),
    h('td', {}, del));
}
