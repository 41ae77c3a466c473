// ui.js holds the pieces every view shares: the confirmation dialog, the
// toast, error banners and field errors placed next to their controls.

import { h, clear, field } from './dom.js';

// toast shows a short status message in the live region.
export function toast(text) {
  const el = document.getElementById('toast');
  el.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.textContent = ''; }, 4000);
}

// maxComment is the server's limit on a change comment, in characters.
export const maxComment = 1000;

// confirmDialog opens a modal dialog and resolves with a truthy value when
// confirmed, false when not. A dialog for a change has a comment field
// (comment: 'optional', or 'required' where the environment requires one,
// named in requiredBy): it then resolves with { comment } to send along.
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false, comment = '', requiredBy = '' }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: danger ? 'danger' : '', dataset: { confirm: '' } }, confirm);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const titleEl = h('h2', { id: 'dlg-title' }, title);
    const required = comment === 'required';
    const note = comment ? h('textarea', {
      rows: 2, maxlength: String(maxComment), name: 'comment', spellcheck: 'true',
      'aria-required': required ? 'true' : null, dataset: { changeComment: required ? 'required' : 'optional' },
    }) : null;
    const noteField = note ? field(required ? 'Comment (required)' : 'Comment (optional)', note, {
      fieldPath: 'comment',
      hint: required ? `${requiredBy || 'This environment'} requires a comment on every change: say why.` : 'Why? Kept in the history.',
    }) : null;
    const dlg = h('dialog', { 'aria-labelledby': 'dlg-title', class: 'confirm' },
      titleEl, h('p', {}, body), noteField, h('div', { class: 'actions' }, ok, cancel));
    let result = false;
    if (note) note.addEventListener('input', () => clearFieldErrors(dlg));
    ok.addEventListener('click', () => {
      if (!note) { result = true; dlg.close(); return; }
      const text = note.value.trim();
      const problem = required && !text ? 'A comment is required here.'
        : [...text].length > maxComment ? `At most ${maxComment} characters.` : '';
      if (problem) {
        showFieldErrors(dlg, [{ field: 'comment', description: problem }]);
        return;
      }
      result = { comment: text };
      dlg.close();
    });
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
    (note || cancel).focus();
  });
}

// errorBanner renders an error message (or nothing) into slot.
export function errorBanner(slot, err) {
  clear(slot);
  if (!err) return;
  slot.append(h('div', { class: 'banner error', role: 'alert' }, h('span', {}, err.message || String(err))));
}

// conflictBanner tells the user someone else changed the resource first and
// offers a reload instead of overwriting.
export function conflictBanner(slot, what, onReload) {
  clear(slot);
  const reload = h('button', { type: 'button', dataset: { action: 'reload' } }, 'Reload');
  reload.addEventListener('click', onReload);
  slot.append(h('div', { class: 'banner conflict', role: 'alert', dataset: { conflict: '' } },
    h('span', {}, `Someone else changed this ${what} since you opened it. Your change was not saved. Reload to see the latest version, then make your change again.`),
    reload));
  reload.focus();
}

// normalizeField makes field paths comparable: drops a leading message name
// ("config.", "flag.", "segment."), underscores and case.
export function normalizeField(path) {
  return String(path || '')
    .replace(/^(config|flag|segment|environment|token)\./i, '')
    .replace(/_/g, '')
    .toLowerCase();
}

// clearFieldErrors removes every field error shown inside root.
export function clearFieldErrors(root) {
  for (const el of root.querySelectorAll('[aria-invalid=true]')) el.removeAttribute('aria-invalid');
  for (const el of root.querySelectorAll('.field-error')) { el.textContent = ''; el.hidden = true; }
}

// showFieldErrors puts each violation next to the control whose data-field
// is the longest prefix of the violation's field. Violations with no
// control go into the returned list, for a summary.
export function showFieldErrors(root, violations) {
  clearFieldErrors(root);
  const controls = [...root.querySelectorAll('[data-field]')]
    .map((el) => ({ el, path: normalizeField(el.dataset.field) }));
  const unplaced = [];
  let first = null;
  for (const v of violations) {
    const want = normalizeField(v.field);
    let best = null;
    for (const c of controls) {
      const prefix = want === c.path || want.startsWith(c.path + '.') || want.startsWith(c.path + '[');
      if (prefix && (!best || c.path.length > best.path.length)) best = c;
    }
    if (!best) { unplaced.push(v); continue; }
    best.el.setAttribute('aria-invalid', 'true');
    const slot = document.getElementById(best.el.getAttribute('aria-describedby'));
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent}; ${v.description}` : v.description;
      slot.hidden = false;
    }
    first = first || best.el;
  }
  if (first) first.focus();
  return unplaced;
}
