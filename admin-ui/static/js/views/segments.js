// segments.js lists segments and edits one: conditions (match all or any)
// and explicit include / exclude lists of targeting keys.

import { canDefine, lock } from '../access.js';
import { api, commented } from '../api.js';
import { h, field, select, clear, append } from '../dom.js';
import { confirmDialog, conflictBanner, errorBanner, showFieldErrors, clearFieldErrors, toast } from '../ui.js';
import { num } from '../model.js';
import { conditionEditor } from './config.js';

export async function render(root, _params, ctx) {
  const resp = await api.listSegments();
  const segments = resp.segments || [];
  const formSlot = h('div');
  const newBtn = h('button', { type: 'button', dataset: { action: 'new-segment' } }, 'New segment');
  newBtn.addEventListener('click', () => edit(formSlot, null, segments, ctx));
  const why = canDefine(ctx.session?.me);
  lock(newBtn, why);
  const tbody = h('tbody', {}, segments.map((s) => {
    const editBtn = h('button', { type: 'button', class: 'secondary small' }, 'Edit');
    editBtn.setAttribute('aria-label', `Edit segment ${s.key}`);
    editBtn.addEventListener('click', () => edit(formSlot, s, segments, ctx));
    const del = h('button', { type: 'button', class: 'secondary small' }, 'Delete');
    del.setAttribute('aria-label', `Delete segment ${s.key}`);
    del.addEventListener('click', async () => {
      const yes = await confirmDialog({ title: `Delete segment ${s.key}?`, body: 'Flags that use it must stop using it first.', confirm: 'Delete', danger: true, comment: 'optional' });
      if (!yes) return;
      try { await commented(yes.comment).deleteSegment(s.key, num(s.revision)); toast('Segment deleted'); ctx.navigate('#/segments'); } catch (err) { errorBanner(formSlot, err); }
    });
    lock(editBtn, why);
    lock(del, why);
    return h('tr', { dataset: { segment: s.key } },
      h('td', { class: 'key' }, h('code', {}, s.key), s.name ? h('span', { class: 'name' }, s.name) : null),
      h('td', {}, s.match || 'all'),
      h('td', {}, String((s.conditions || []).length)),
      h('td', {}, `${(s.included || []).length} / ${(s.excluded || []).length}`),
      h('td', {}, h('div', { class: 'actions' }, editBtn, del)));
  }));
  root.append(
    h('div', { class: 'spread' }, h('h1', {}, 'Segments'), newBtn),
    formSlot,
    segments.length === 0 ? h('p', { class: 'muted' }, 'No segments yet.') : h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Segment', 'Match', 'Conditions', 'Included / excluded', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)));
}

function edit(slot, seg, segments, ctx) {
  clear(slot);
  const draft = structuredClone(seg || { key: '', name: '', description: '', match: 'all', conditions: [], included: [], excluded: [] });
  draft.conditions = draft.conditions || [];
  const key = h('input', { type: 'text', value: draft.key, disabled: !!seg, spellcheck: 'false' });
  const name = h('input', { type: 'text', value: draft.name || '' });
  const description = h('textarea', { rows: 2, value: draft.description || '' });
  const match = select([['all', 'all conditions hold'], ['any', 'any condition holds']], draft.match || 'all', {});
  const included = h('textarea', { rows: 3, value: (draft.included || []).join('\n') });
  const excluded = h('textarea', { rows: 3, value: (draft.excluded || []).join('\n') });
  const conds = h('div');
  const drawConds = (focusSel) => {
    clear(conds);
    append(conds, draft.conditions.map((c, j) => conditionEditor(draft, c, `conditions[${j}]`, j, segments.filter((s) => s.key !== draft.key), drawConds)));
    const add = h('button', { type: 'button', class: 'secondary small' }, 'Add condition');
    add.addEventListener('click', () => { draft.conditions.push({ attribute: '', operator: 'in', values: [] }); drawConds(`[data-field="conditions[${draft.conditions.length - 1}].attribute"]`); });
    conds.append(add);
    if (focusSel) conds.querySelector(focusSel)?.focus();
  };
  drawConds();
  const comment = h('input', { type: 'text', maxlength: 1000 });
  const msg = h('div');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  cancel.addEventListener('click', () => clear(slot));
  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'seg-title' },
    h('h2', { id: 'seg-title' }, seg ? `Edit segment ${seg.key}` : 'New segment'), msg,
    h('div', { class: 'row' }, field('Key', key, { fieldPath: 'key' }), field('Name', name, { fieldPath: 'name' }), field('Match when', match, { fieldPath: 'match' })),
    field('Description', description, { fieldPath: 'description' }),
    h('h3', {}, 'Conditions'), conds,
    h('div', { class: 'row' },
      field('Always included targeting keys', included, { fieldPath: 'included', hint: 'One per line.' }),
      field('Always excluded targeting keys', excluded, { fieldPath: 'excluded', hint: 'One per line; wins over everything.' })),
    field('Comment (optional)', comment, { fieldPath: 'comment', hint: 'Why: kept with the change in the audit log.' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, seg ? 'Save segment' : 'Create segment'), cancel));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const lines = (t) => t.value.split('\n').map((s) => s.trim()).filter(Boolean);
    const next = { ...draft, key: key.value.trim(), name: name.value.trim(), description: description.value, match: match.value, included: lines(included), excluded: lines(excluded) };
    try {
      const said = commented(comment.value.trim());
      if (seg) await said.updateSegment(next); else await said.createSegment(next);
      toast(seg ? 'Segment saved' : 'Segment created');
      ctx.navigate('#/segments');
    } catch (err) {
      if (err.status === 409 && err.conflict) { conflictBanner(msg, 'segment', () => ctx.navigate('#/segments')); return; }
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) errorBanner(msg, err);
    }
  });
  slot.append(form);
  (seg ? name : key).focus();
}
