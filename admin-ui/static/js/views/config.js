// config.js edits a flag's configuration in one environment: off variant,
// default serve, and the ordered rules with their conditions. It edits a
// draft (a copy of the configuration) and hands it back on save.

import { h, field, select, clear, uid, append } from '../dom.js';

export const operators = [
  ['in', 'is one of'], ['not_in', 'is not one of'], ['contains', 'contains'],
  ['starts_with', 'starts with'], ['ends_with', 'ends with'], ['matches', 'matches regex (RE2)'],
  ['lt', '< (number)'], ['lte', '≤ (number)'], ['gt', '> (number)'], ['gte', '≥ (number)'],
  ['semver_eq', 'semver ='], ['semver_lt', 'semver <'], ['semver_lte', 'semver ≤'],
  ['semver_gt', 'semver >'], ['semver_gte', 'semver ≥'],
  ['before', 'before (RFC 3339 time)'], ['after', 'after (RFC 3339 time)'],
  ['exists', 'exists'], ['not_exists', 'does not exist'],
  ['in_segment', 'is in segment'], ['not_in_segment', 'is not in segment'],
];
const listOps = new Set(['in', 'not_in', 'contains', 'starts_with', 'ends_with']);
const noValueOps = new Set(['exists', 'not_exists']);
const segmentOps = new Set(['in_segment', 'not_in_segment']);

// configEditor renders the editor for draft into a form element and calls
// onSave(draft) on submit. variants: the flag's variant keys; segments: the
// known segments.
export function configEditor({ draft, variants, segments, onSave }) {
  const form = h('form', { class: 'config-editor', novalidate: true, 'aria-label': 'Targeting' });
  const body = h('div');
  const msg = h('div', { class: 'form-message' });
  const save = h('button', { type: 'submit', dataset: { action: 'save-config' } }, 'Save targeting');
  form.append(msg, body, h('div', { class: 'actions' }, save,
    h('span', { class: 'hint' }, 'Rules, default serve and off variant are saved together.')));

  const redraw = (focusSel) => {
    clear(body);
    append(body, [
      h('div', { class: 'row' },
        field('Off variant (served while off)', offSelect(draft, variants), { fieldPath: 'offVariant' })),
      h('h3', {}, 'Rules'),
      h('p', { class: 'hint' }, 'Tried in order; the first rule whose conditions all hold serves.'),
      draft.rules.length ? null : h('p', { class: 'muted' }, 'No rules: every context gets the default serve.'),
      draft.rules.map((rule, i) => ruleEditor(draft, rule, i, variants, segments, redraw)),
      addRuleButton(draft, variants, redraw),
      h('h3', {}, 'Default serve'),
      h('p', { class: 'hint' }, 'Served when no rule holds.'),
      serveEditor(draft, 'defaultServe', draft.defaultServe, variants, 'defaultServe', redraw)]);
    if (focusSel) body.querySelector(focusSel)?.focus();
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onSave(draft, { form, msg, save });
  });
  redraw();
  return { el: form, redraw };
}

function offSelect(draft, variants) {
  const el = select([['', '(flag default)'], ...variants], draft.offVariant || '', { name: 'offVariant' });
  el.addEventListener('change', () => { draft.offVariant = el.value; });
  return el;
}

function addRuleButton(draft, variants, redraw) {
  const btn = h('button', { type: 'button', class: 'secondary', dataset: { action: 'add-rule' } }, 'Add rule');
  btn.addEventListener('click', () => {
    draft.rules.push({ description: '', conditions: [{ attribute: '', operator: 'in', values: [] }], serve: { variant: variants[0] || '' } });
    const i = draft.rules.length - 1;
    redraw(`[data-field="rules[${i}].conditions[0].attribute"]`);
  });
  return btn;
}

function ruleEditor(draft, rule, i, variants, segments, redraw) {
  const n = draft.rules.length;
  const p = `rules[${i}]`;
  const move = (to, label) => {
    const b = h('button', { type: 'button', class: 'secondary small', disabled: to < 0 || to >= n, dataset: { action: label, rule: String(i) } },
      label === 'up' ? 'Move up' : 'Move down');
    b.setAttribute('aria-label', `Move ${label} rule ${i + 1}`);
    b.addEventListener('click', () => {
      const [r] = draft.rules.splice(i, 1);
      draft.rules.splice(to, 0, r);
      // keep keyboard focus on the same action of the moved rule, or its
      // other move button when it reached an end
      const other = label === 'up' ? 'down' : 'up';
      const sameOk = label === 'up' ? to > 0 : to < n - 1;
      redraw(`[data-action="${sameOk ? label : other}"][data-rule="${to}"]`);
    });
    return b;
  };
  const del = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'delete-rule', rule: String(i) } }, 'Delete rule');
  del.setAttribute('aria-label', `Delete rule ${i + 1}`);
  del.addEventListener('click', () => { draft.rules.splice(i, 1); redraw('[data-action="add-rule"]'); });

  const desc = h('input', { type: 'text', value: rule.description || '' });
  desc.addEventListener('input', () => { rule.description = desc.value; });
  const addCond = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'add-condition', rule: String(i) } }, 'Add condition');
  addCond.addEventListener('click', () => {
    rule.conditions = rule.conditions || [];
    rule.conditions.push({ attribute: '', operator: 'in', values: [] });
    redraw(`[data-field="${p}.conditions[${rule.conditions.length - 1}].attribute"]`);
  });
  const errSlot = h('p', { class: 'field-error', id: uid('err'), hidden: true, role: 'alert' });
  const legendId = uid('rule');
  return h('fieldset', { class: 'rule', dataset: { field: p, ruleIndex: String(i) }, 'aria-describedby': errSlot.id, 'aria-labelledby': legendId },
    h('div', { class: 'rule-head' },
      h('strong', { id: legendId }, `Rule ${i + 1}`),
      h('div', { class: 'actions' }, move(i - 1, 'up'), move(i + 1, 'down'), del)),
    errSlot,
    field('Description', desc, { fieldPath: `${p}.description` }),
    (rule.conditions || []).map((c, j) => conditionEditor(rule, c, `${p}.conditions[${j}]`, j, segments, redraw)),
    addCond,
    serveEditor(rule, 'serve', rule.serve || {}, variants, `${p}.serve`, redraw));
}

export function conditionEditor(rule, cond, p, j, segments, redraw) {
  const attr = h('input', { type: 'text', value: cond.attribute || '', spellcheck: 'false', placeholder: 'e.g. country, targetingKey' });
  attr.addEventListener('input', () => { cond.attribute = attr.value.trim(); });
  const op = select(operators, cond.operator || 'in', {});
  op.addEventListener('change', () => {
    const wasSeg = segmentOps.has(cond.operator);
    cond.operator = op.value;
    if (wasSeg !== segmentOps.has(op.value) || noValueOps.has(op.value)) cond.values = [];
    redraw(`[data-field="${p}.operator"]`);
  });
  let values;
  if (segmentOps.has(cond.operator)) {
    values = h('select', { multiple: true, size: Math.min(4, Math.max(2, segments.length)) });
    for (const s of segments) {
      values.append(h('option', { value: s.key, selected: (cond.values || []).includes(s.key) }, s.name ? `${s.key} — ${s.name}` : s.key));
    }
    values.addEventListener('change', () => { cond.values = [...values.selectedOptions].map((o) => o.value); });
  } else {
    const list = listOps.has(cond.operator);
    values = h('input', {
      type: 'text', value: list ? (cond.values || []).join(', ') : (cond.values || [])[0] || '',
      disabled: noValueOps.has(cond.operator), spellcheck: 'false',
    });
    values.addEventListener('input', () => {
      cond.values = list ? values.value.split(',').map((s) => s.trim()).filter(Boolean)
        : (values.value.trim() === '' ? [] : [values.value.trim()]);
    });
  }
  const valuesLabel = segmentOps.has(cond.operator) ? 'Segments'
    : listOps.has(cond.operator) ? 'Values (comma-separated)' : 'Value';
  const remove = h('button', { type: 'button', class: 'secondary small' }, 'Remove');
  remove.setAttribute('aria-label', `Remove condition ${j + 1}`);
  remove.addEventListener('click', () => { rule.conditions.splice(j, 1); redraw(); });
  return h('div', { class: 'cond', dataset: { condition: String(j) } },
    field('Attribute', attr, { fieldPath: `${p}.attribute` }),
    field('Operator', op, { fieldPath: `${p}.operator` }),
    field(valuesLabel, values, { fieldPath: `${p}.values` }),
    h('div', { class: 'field' }, remove));
}

// serveEditor edits owner[prop] (a Serve): one variant or a weighted split.
function serveEditor(owner, prop, serve, variants, p, redraw) {
  owner[prop] = serve;
  const kind = select([['variant', 'One variant'], ['split', 'Percentage split']], serve.split ? 'split' : 'variant', {});
  kind.addEventListener('change', () => {
    if (kind.value === 'split') {
      owner[prop] = { split: { bucketBy: '', weights: variants.map((v, k) => ({ variant: v, weight: k === 0 ? 100 : 0 })) } };
    } else {
      owner[prop] = { variant: serve.split?.weights?.[0]?.variant || variants[0] || '' };
    }
    redraw(`[data-field="${p}"]`);
  });
  const parts = [field('Serve', kind, { fieldPath: p })];
  if (serve.split) {
    const split = serve.split;
    split.weights = split.weights || [];
    const bucket = h('input', { type: 'text', value: split.bucketBy || '', placeholder: 'targeting key' });
    bucket.addEventListener('input', () => { split.bucketBy = bucket.value.trim(); });
    const weights = variants.map((v) => {
      let w = split.weights.find((x) => x.variant === v);
      if (!w) { w = { variant: v, weight: 0 }; split.weights.push(w); }
      const k = split.weights.indexOf(w);
      const input = h('input', { type: 'number', min: 0, step: 1, value: String(w.weight ?? 0) });
      input.addEventListener('input', () => { w.weight = input.value === '' ? 0 : Number(input.value); });
      return field(`Weight of ${v}`, input, { fieldPath: `${p}.split.weights[${k}].weight` });
    });
    parts.push(h('div', { class: 'weights' }, weights),
      field('Bucket by attribute', bucket, { fieldPath: `${p}.split.bucketBy`, hint: 'Empty: the targeting key.' }));
  } else {
    const v = select(variants, serve.variant ?? variants[0] ?? '', {});
    if (serve.variant === undefined) serve.variant = v.value;
    v.addEventListener('change', () => { serve.variant = v.value; });
    parts.push(field('Variant', v, { fieldPath: `${p}.variant` }));
  }
  return h('div', { class: 'serve' }, parts);
}
