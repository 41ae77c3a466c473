// flags.js is the flags overview: every flag with one column per
// environment (on/off and rollout at a glance), search, status filter and
// the form that creates a flag.

import { canDefine, lock } from '../access.js';
import { api, ApiError, commented } from '../api.js';
import { h, field, select, clear } from '../dom.js';
import { errorBanner, showFieldErrors, toast } from '../ui.js';
import { rollout, matchesStatus, matchesSearch, num } from '../model.js';
import { variantsEditor } from './variants.js';

const statuses = [['', 'Any status'], ['on', 'On'], ['off', 'Off'], ['rolling', 'Rolling out'], ['archived', 'Archived'], ['stale', 'Stale']];

export async function render(root, params, ctx) {
  const [envResp, flagResp, usage] = await Promise.all([
    api.listEnvironments(), api.listFlags({ includeArchived: true }), loadUsage()]);
  const envs = (envResp.environments || []).map((e) => e.name);
  const items = flagResp.flags || [];

  const search = h('input', { type: 'search', name: 'q', placeholder: 'key, name or tag', value: sessionStorage.getItem('flags.q') || '' });
  const status = select(statuses, sessionStorage.getItem('flags.status') || '', { name: 'status' });
  const envSel = select([['', 'Any environment'], ...envs], sessionStorage.getItem('flags.env') || '', { name: 'env' });
  const newBtn = h('button', { type: 'button', dataset: { action: 'new-flag' } }, 'New flag');
  lock(newBtn, canDefine(ctx.session?.me));
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const note = h('p', { class: 'hint' });
  const tbody = h('tbody');
  const createSlot = h('div');

  const draw = () => {
    sessionStorage.setItem('flags.q', search.value);
    sessionStorage.setItem('flags.status', status.value);
    sessionStorage.setItem('flags.env', envSel.value);
    note.textContent = status.value === 'stale' && !usage.available
      ? 'Usage insights are not available from this server, so no flag is known to be stale.' : '';
    const shown = items.filter((it) => matchesSearch(it.flag, search.value)
      && matchesStatus(it, status.value, envSel.value, usage.stale));
    clear(tbody);
    for (const it of shown) tbody.append(row(it, envs, usage));
    if (shown.length === 0) {
      tbody.append(h('tr', {}, h('td', { colspan: 3 + envs.length, class: 'muted' },
        items.length ? 'No flag matches.' : 'No flags yet. Create the first one.')));
    }
    count.textContent = `${shown.length} of ${items.length} flags`;
  };
  for (const el of [search, status, envSel]) el.addEventListener('input', draw);
  newBtn.addEventListener('click', () => openCreate(createSlot, ctx, newBtn));

  root.append(
    h('div', { class: 'spread' }, h('h1', {}, 'Flags'), newBtn),
    createSlot,
    h('div', { class: 'filters', role: 'search' },
      h('div', { class: 'search' }, field('Search flags', search)),
      field('Status', status),
      field('Environment', envSel),
      count),
    note,
    usage.stale.size ? h('p', { class: 'hint', dataset: { staleLegend: '' } },
      'Stale marks a flag that is a candidate for removal: never evaluated, not evaluated for the server\'s stale period',
      usage.staleAfter ? ` (${Math.round(usage.staleAfter / 86400) || 1} days)` : '',
      ', or serving one variant to everyone for that period. Point at the marker for the reason per environment.') : null,
    h('div', { class: 'table-wrap' }, h('table', { class: 'flags' },
      h('caption', { class: 'muted', hidden: true }, 'Flags by environment'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Flag'),
        h('th', { scope: 'col' }, 'Tags'),
        h('th', { scope: 'col' }, 'Status'),
        envs.map((e) => h('th', { scope: 'col' }, e)))),
      tbody)));
  draw();
  if (params.create) openCreate(createSlot, ctx, newBtn);
}

function row(item, envs, usage) {
  const f = item.flag;
  const byEnv = new Map((item.configs || []).map((c) => [c.environment, c]));
  const state = [];
  if (f.archived) state.push(h('span', { class: 'badge warn' }, 'Archived'));
  if (usage.stale.has(f.key)) state.push(staleBadge(usage.stale.get(f.key)));
  if (f.temporary) state.push(h('span', { class: 'badge' }, 'Temporary'));
  return h('tr', { dataset: { flag: f.key } },
    h('td', { class: 'key' },
      h('a', { href: `#/flags/${encodeURIComponent(f.key)}` }, f.key),
      f.name ? h('span', { class: 'name' }, f.name) : null),
    h('td', { 'data-label': 'Tags' }, (f.tags || []).map((t) => h('span', { class: 'tag' }, t))),
    h('td', { 'data-label': 'Status' }, state),
    envs.map((env) => envCell(f, byEnv.get(env), env)));
}

function envCell(flag, config, env) {
  if (!config) return h('td', { class: 'muted', 'data-label': env }, '—');
  const r = rollout(flag, config);
  const cls = !r.enabled ? 'badge' : r.rolling ? 'badge rolling' : 'badge on';
  const meter = r.enabled && r.percent !== null
    ? h('span', { class: 'meter', role: 'img', 'aria-label': `${r.percent}% rolled out` },
      meterBar(r.percent)) : null;
  return h('td', { dataset: { env }, 'data-label': env },
    h('span', { class: cls }, r.label),
    meter,
    r.rules ? h('span', { class: 'hint' }, `${r.rules} rule${r.rules === 1 ? '' : 's'}`) : null);
}

// meterBar draws the rollout bar with the CSSOM (allowed by the CSP,
// unlike style attributes in markup).
function meterBar(percent) {
  const bar = h('span');
  bar.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return bar;
}

// loadUsage asks which flags are stale (not evaluated, or serving one
// variant to everyone, for the server's stale period), per environment.
async function loadUsage() {
  try {
    const resp = await api.listUsage({ staleOnly: true });
    const stale = new Map();
    for (const u of resp.usage || []) {
      if (!u.stale) continue;
      if (!stale.has(u.flagKey)) stale.set(u.flagKey, new Map());
      stale.get(u.flagKey).set(u.environment, u.staleReason || '');
    }
    return { available: true, stale, staleAfter: num(resp.staleAfterSeconds) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { available: false, stale: new Map() };
  }
}

const staleReasons = {
  never_evaluated: 'never evaluated: no service asks for it',
  not_evaluated: 'not evaluated for the stale period: the code may be gone',
  single_variant: 'serves one variant to everyone for the stale period: the release is done',
};

function staleBadge(envs) {
  const text = [...envs].map(([env, reason]) => `${env}: ${staleReasons[reason] || reason || 'stale'}`).join('; ');
  return h('span', { class: 'badge warn', title: text }, 'Stale', h('span', { class: 'visually-hidden' }, ` (${text})`));
}

const types = ['boolean', 'string', 'integer', 'float', 'object'];

function openCreate(slot, ctx, opener) {
  clear(slot);
  const key = h('input', { type: 'text', name: 'key', required: true, autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { type: 'text', name: 'name' });
  const description = h('textarea', { name: 'description', rows: 2 });
  const type = select(types, 'boolean', { name: 'type' });
  const tags = h('input', { type: 'text', name: 'tags' });
  const owner = h('input', { type: 'text', name: 'owner' });
  const temporary = h('input', { type: 'checkbox', name: 'temporary', checked: true, id: 'new-temporary' });
  const variants = variantsEditor([], 'boolean');
  const comment = h('input', { type: 'text', maxlength: 1000 });
  const msg = h('div');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h('form', { class: 'panel', 'aria-label': 'New flag', novalidate: true },
    h('h2', {}, 'New flag'),
    msg,
    h('div', { class: 'row' },
      field('Key', key, { fieldPath: 'key', hint: 'Lowercase letters, digits, ".", "_" and "-". Cannot change later.' }),
      field('Name', name, { fieldPath: 'name' }),
      field('Type', type, { fieldPath: 'type' })),
    field('Description', description, { fieldPath: 'description' }),
    h('div', { class: 'row' },
      field('Tags', tags, { fieldPath: 'tags', hint: 'Comma-separated.' }),
      field('Owner', owner, { fieldPath: 'owner' })),
    h('div', { class: 'field' }, h('label', { class: 'check', for: temporary.id }, temporary,
      'Temporary (a release flag, to be removed once fully rolled out)')),
    variants.el,
    field('Comment (optional)', comment, { fieldPath: 'comment', hint: 'Why: kept with the change in the audit log.' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create flag'), cancel));
  type.addEventListener('change', () => variants.setType(type.value));
  cancel.addEventListener('click', () => { clear(slot); opener.focus(); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorBanner(msg, null);
    let vars;
    try { vars = variants.value(); } catch (err) { showFieldErrors(form, [err]); return; }
    const flag = {
      key: key.value.trim(), name: name.value.trim(), description: description.value,
      type: type.value, tags: splitList(tags.value), owner: owner.value.trim(),
      temporary: temporary.checked, variants: vars,
    };
    try {
      const resp = await commented(comment.value.trim()).createFlag(flag);
      toast(`Flag ${resp.flag.key} created`);
      ctx.navigate(`#/flags/${encodeURIComponent(resp.flag.key)}`);
    } catch (err) {
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) errorBanner(msg, err);
    }
  });
  slot.append(form);
  key.focus();
}

export function splitList(s) {
  return String(s || '').split(',').map((t) => t.trim()).filter(Boolean);
}
