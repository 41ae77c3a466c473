// access.js tells what the signed-in user may change, mirroring the
// server's rules (server/permissions.go): viewers read; editors define flags
// and segments and configure unprotected environments; admins do
// everything. A control the user cannot use is shown disabled with the
// reason, instead of failing with 403 after a confirmation.

import { h } from './dom.js';

let counter = 0;

// roleOf is the effective role: a user's role, or admin for an admin token.
export function roleOf(me) {
  if (me?.role) return me.role;
  return me?.scope === 'admin' ? 'admin' : 'viewer';
}

// canConfigure is '' when me may change env's configurations, else why not.
export function canConfigure(me, env) {
  const role = roleOf(me);
  if (role === 'viewer') return 'read-only: viewers cannot change flags';
  if (env?.protected && role !== 'admin') return `admins only: ${env.name} is protected`;
  return '';
}

// canDefine is '' when me may create and edit flags and segments.
export function canDefine(me) {
  return roleOf(me) === 'viewer' ? 'read-only: viewers cannot change flags' : '';
}

// canAdminister is '' when me may manage environments, tokens and users.
export function canAdminister(me) {
  return roleOf(me) === 'admin' ? '' : 'admins only';
}

// lockNote is the visible reason that the locked controls point at.
export function lockNote(reason) {
  return h('p', { class: 'lock-note', id: `lock-${++counter}`, dataset: { lockReason: '' } }, `Read-only here — ${reason}.`);
}

// lock disables every control in root (except those marked data-keep), with
// the reason as their title and, through aria-describedby, note's text.
export function lock(root, reason, note) {
  if (!reason) return;
  const sel = 'input, select, textarea, button';
  for (const el of root.matches(sel) ? [root] : root.querySelectorAll(sel)) {
    if (el.closest('[data-keep]')) continue;
    el.disabled = true;
    el.title = reason;
    if (note) {
      const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
      el.setAttribute('aria-describedby', [...ids, note.id].join(' '));
    }
  }
}
