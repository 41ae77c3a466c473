// variants.js edits a flag's variants: ordered key → value rows whose value
// is parsed for the flag's type.

import { h, field, clear } from '../dom.js';

// variantsEditor returns {el, value(), setType(type)}. value() throws a
// {field, description} violation when a value does not parse.
export function variantsEditor(initial, type) {
  const el = h('fieldset', { class: 'variants' });
  let rows = [];
  let current = type;

  const addRow = (v = { key: '', value: '' }) => {
    const key = h('input', { type: 'text', value: v.key, spellcheck: 'false' });
    const value = h('input', { type: 'text', value: showValue(v.value, current), spellcheck: 'false' });
    const remove = h('button', { type: 'button', class: 'secondary small' }, 'Remove');
    const row = { key, value, el: null };
    const i = rows.length;
    row.el = h('div', { class: 'row' },
      field(`Variant ${i + 1} key`, key, { fieldPath: `variants[${i}].key` }),
      field(`Variant ${i + 1} value`, value, { fieldPath: `variants[${i}].value` }),
      remove);
    remove.setAttribute('aria-label', `Remove variant ${i + 1}`);
    remove.addEventListener('click', () => { rows = rows.filter((r) => r !== row); redraw(); });
    rows.push(row);
  };

  const redraw = () => {
    const kept = rows.map((r) => ({ key: r.key.value, value: r.value.value, raw: true }));
    rows = [];
    clear(el);
    el.append(h('legend', {}, 'Variants'));
    if (current === 'boolean') {
      el.append(h('p', { class: 'hint' }, 'Boolean flags serve on = true and off = false.'));
      return;
    }
    for (const v of kept) addRow({ key: v.key, value: v.value });
    fixLabels();
    const add = h('button', { type: 'button', class: 'secondary small', dataset: { action: 'add-variant' } }, 'Add variant');
    add.addEventListener('click', () => { addRow(); redraw(); });
    for (const r of rows) el.append(r.el);
    el.append(add);
  };

  const fixLabels = () => rows.forEach((r, i) => {
    r.key.dataset.field = `variants[${i}].key`;
    r.value.dataset.field = `variants[${i}].value`;
  });

  current = type;
  for (const v of initial || []) addRow({ key: v.key, value: v.value });
  redraw();

  return {
    el,
    setType(t) { current = t; redraw(); },
    value() {
      if (current === 'boolean') return [];
      return rows.map((r, i) => ({ key: r.key.value.trim(), value: parseValue(r.value.value, current, i) }));
    },
  };
}

function showValue(v, type) {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v === 'string' && type !== 'object') return v;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function parseValue(text, type, i) {
  const fieldPath = `variants[${i}].value`;
  const bad = (description) => { throw { field: fieldPath, description }; };
  switch (type) {
    case 'string': return text;
    case 'integer': {
      if (!/^-?\d+$/.test(text.trim())) bad('must be a whole number');
      return Number(text.trim());
    }
    case 'float': {
      const n = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(n)) bad('must be a number');
      return n;
    }
    case 'object': {
      try {
        const v = JSON.parse(text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) bad('must be a JSON object');
        return v;
      } catch (e) {
        if (e.field) throw e;
        return bad('must be valid JSON');
      }
    }
    default: return text;
  }
}
