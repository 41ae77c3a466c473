// tokens.js lists machine tokens, creates one (its secret is shown once,
// here, and never again), revokes them and deletes revoked ones.

import { canAdminister, lock, lockNote } from '../access.js';
import { api, commented } from '../api.js';
import { h, field, select, fmtTime, clear } from '../dom.js';
import { errorBanner, showFieldErrors, clearFieldErrors, toast, confirmDialog } from '../ui.js';

export async function render(root, _params, ctx) {
  const why = canAdminister(ctx.session?.me);
  if (why) { root.append(h('h1', {}, 'Tokens'), lockNote(why)); return; }
  const [tokResp, envResp] = await Promise.all([api.listTokens(), api.listEnvironments()]);
  const tokens = tokResp.tokens || [];
  const envs = (envResp.environments || []).map((e) => e.name);
  const msg = h('div');
  const secretSlot = h('div');

  const name = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
  const scope = select([['sdk', 'sdk: one environment, stream and evaluate'], ['ci', 'ci: read; toggle, rollout, apply in chosen environments'], ['admin', 'admin: everything']], 'sdk', {});
  const expires = h('input', { type: 'datetime-local', name: 'expires' });
  const envBoxes = envs.map((e) => h('input', { type: 'checkbox', value: e, id: `tok-env-${e}` }));
  const envField = h('fieldset', { class: 'field', dataset: { field: 'environments' } },
    h('legend', {}, 'Environments'),
    envBoxes.map((b) => h('label', { class: 'check', for: b.id }, b, b.value)));
  const envErr = h('p', { class: 'field-error', id: 'tok-env-err', hidden: true, role: 'alert' });
  envField.setAttribute('aria-describedby', envErr.id);
  envField.append(envErr);
  const syncScope = () => { envField.hidden = scope.value === 'admin'; };
  scope.addEventListener('change', syncScope);
  syncScope();

  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'tok-new' },
    h('h2', { id: 'tok-new' }, 'New token'),
    h('div', { class: 'row' }, field('Name', name, { fieldPath: 'name' }), field('Scope', scope, { fieldPath: 'scope' }),
      field('Expires', expires, { fieldPath: 'expireTime', hint: 'Your local time; empty for never.' })),
    envField,
    h('div', { class: 'actions' }, h('button', { type: 'submit', dataset: { action: 'create-token' } }, 'Create token')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    errorBanner(msg, null);
    const environments = scope.value === 'admin' ? [] : envBoxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const expireTime = expires.value ? new Date(expires.value).toISOString() : undefined;
      const resp = await api.createToken({ name: name.value.trim(), scope: scope.value, environments, expireTime });
      showSecret(secretSlot, resp, ctx);
    } catch (err) {
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) errorBanner(msg, err);
    }
  });

  const rows = tokens.map((t) => {
    const revoke = h('button', { type: 'button', class: 'secondary small', disabled: !!t.revokeTime }, 'Revoke');
    revoke.setAttribute('aria-label', `Revoke token ${t.name}`);
    revoke.addEventListener('click', async () => {
      const yes = await confirmDialog({ title: `Revoke ${t.name}?`, body: 'Anything using this token loses access at once. This cannot be undone.', confirm: 'Revoke', danger: true, comment: 'optional' });
      if (!yes) return;
      try { await commented(yes.comment).revokeToken(t.name); toast(`${t.name} revoked`); ctx.navigate('#/tokens'); } catch (err) { errorBanner(msg, err); }
    });
    // Deleting frees the name; the audit log keeps the token's history. The
    // server deletes revoked tokens only, so that a delete never cuts a
    // service off.
    const del = h('button', { type: 'button', class: 'secondary small', dataset: { deleteToken: t.name } }, 'Delete');
    del.setAttribute('aria-label', `Delete token ${t.name}`);
    del.addEventListener('click', async () => {
      const yes = await confirmDialog({ title: `Delete ${t.name}?`, body: `The name ${t.name} can be used again; the audit log keeps the token's history.`, confirm: 'Delete', danger: true, comment: 'optional' });
      if (!yes) return;
      try { await commented(yes.comment).deleteToken(t.name); toast(`${t.name} deleted`); ctx.navigate('#/tokens'); } catch (err) { errorBanner(msg, err); }
    });
    lock(del, t.revokeTime ? '' : 'revoke it first: only a revoked token can be deleted');
    const status = tokenStatus(t);
    return h('tr', { dataset: { token: t.name, status } },
      h('td', {}, h('span', { class: status === 'active' ? 'badge on' : 'badge danger' }, status)),
      h('td', { class: 'key' }, h('code', {}, t.name), t.hint ? h('span', { class: 'name mono' }, `${t.hint}…`) : null),
      h('td', {}, t.scope),
      h('td', {}, (t.environments || []).join(', ') || '—'),
      h('td', {}, fmtTime(t.createTime), t.createdBy ? h('span', { class: 'name' }, `by ${t.createdBy}`) : null),
      h('td', {}, fmtTime(t.lastUsedTime) || 'never'),
      h('td', {}, t.expireTime ? fmtTime(t.expireTime) : 'never'),
      h('td', {}, h('div', { class: 'actions' }, revoke, del)));
  });
  root.append(h('h1', {}, 'Tokens'), msg, secretSlot, form,
    tokens.length === 0 ? h('p', { class: 'muted' }, 'No tokens.') : h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Status', 'Token', 'Scope', 'Environments', 'Created', 'Last used', 'Expires', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows))));
}

function showSecret(slot, resp, ctx) {
  clear(slot);
  const done = h('button', { type: 'button' }, 'I have copied it');
  done.addEventListener('click', () => ctx.navigate('#/tokens'));
  slot.append(h('div', { class: 'panel', role: 'status', dataset: { secretShown: '' } },
    h('h2', {}, `Token ${resp.token?.name || ''} created`),
    h('p', {}, 'Copy the secret now. It is shown only this once and cannot be recovered.'),
    h('p', { class: 'secret', tabindex: '0', 'aria-label': 'Token secret', dataset: { secret: '' } }, resp.secret || ''),
    h('div', { class: 'actions' }, done)));
  done.focus();
}

// tokenStatus is revoked, expired or active.
export function tokenStatus(t, now = Date.now()) {
  if (t.revokeTime) return 'revoked';
  if (t.expireTime && new Date(t.expireTime).getTime() <= now) return 'expired';
  return 'active';
}
