// dom.js builds elements without ever parsing HTML: text always goes in as
// text nodes, so flag names, descriptions and audit data cannot inject markup.

let idCounter = 0;

// uid returns a document-unique id with a prefix, for label/aria wiring.
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// h creates an element. attrs: plain attributes (strings, numbers, booleans),
// `class`, `dataset` (object), `on` (object of event → listener) and the
// properties `value`, `checked`, `selected`, `disabled`, `hidden`.
// Children are nodes, strings (inserted as text), arrays, or null/false.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (['value', 'checked', 'selected', 'disabled', 'hidden', 'open'].includes(name)) {
      el[name] = value;
    } else if (/^on/i.test(name)) {
      throw new Error(`dom: inline handler attribute ${name} is not allowed`);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

// append adds children (see h) to a parent.
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

// clear removes every child of el.
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// field wraps a control with a visible label and an error slot; the control
// gets an id and aria wiring. Returns the wrapper element.
export function field(labelText, control, { hint, fieldPath } = {}) {
  if (!control.id) control.id = uid('f');
  const err = h('p', { class: 'field-error', id: uid('err'), hidden: true, role: 'alert' });
  if (fieldPath) {
    control.dataset.field = fieldPath;
  }
  control.setAttribute('aria-describedby', err.id);
  return h('div', { class: 'field' },
    h('label', { for: control.id }, labelText),
    control,
    hint ? h('p', { class: 'hint' }, hint) : null,
    err);
}

// select builds a <select> from [value, label] pairs (or plain strings).
export function select(options, value, attrs = {}) {
  const el = h('select', attrs);
  for (const opt of options) {
    const [v, label] = Array.isArray(opt) ? opt : [opt, opt];
    el.append(h('option', { value: v, selected: v === value }, label));
  }
  el.value = value ?? '';
  return el;
}

// fmtTime renders an RFC 3339 time in the browser's locale, or '' for none.
export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString();
}

// collapsible shows text in full when it is short, and otherwise clipped to
// a few lines with a button that expands it (descriptions of 16 KiB and
// variant values of 64 KiB would make a page tens of thousands of pixels
// tall). The text stays in the DOM as a text node either way.
let collapseCounter = 0;
export function collapsible(text, { tag = 'span', cls = '', limit = 400, lines = 6 } = {}) {
  const s = String(text ?? '');
  const long = s.length > limit || s.split('\n').length > lines;
  const body = h(tag, { class: ['collapsible-text', cls], id: `clp-${++collapseCounter}` }, s);
  if (!long) return body;
  body.classList.add('collapsed');
  const btn = h('button', {
    type: 'button', class: 'secondary small', 'aria-expanded': 'false', 'aria-controls': body.id,
    dataset: { action: 'expand' },
  }, `Show all (${s.length.toLocaleString('en-US')} characters)`);
  btn.addEventListener('click', () => {
    const open = btn.getAttribute('aria-expanded') !== 'true';
    btn.setAttribute('aria-expanded', String(open));
    body.classList.toggle('collapsed', !open);
    btn.textContent = open ? 'Show less' : `Show all (${s.length.toLocaleString('en-US')} characters)`;
  });
  return h('div', { class: 'collapsible' }, body, btn);
}
