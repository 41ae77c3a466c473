// audit.js is the global audit log: every change, newest first, with its
// comment, filtered on the server by actor (exact user or token name),
// flag, environment and time.

import { api } from '../api.js';
import { h, field, select } from '../dom.js';
import { errorBanner } from '../ui.js';
import { entry } from './history.js';

export async function render(root) {
  const envs = ((await api.listEnvironments()).environments || []).map((e) => e.name);
  const actor = h('input', { type: 'search', name: 'actor', spellcheck: 'false' });
  const flagKey = h('input', { type: 'search', name: 'flag', spellcheck: 'false' });
  const env = select([['', 'Any environment'], ...envs], '', { name: 'environment' });
  const since = h('input', { type: 'datetime-local', name: 'since' });
  const until = h('input', { type: 'datetime-local', name: 'until' });
  const list = h('div', { class: 'panel', dataset: { audit: '' } });
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older entries');
  const msg = h('div');
  const form = h('form', { class: 'panel filters audit-filters', role: 'search', 'aria-label': 'Filter the audit log' },
    field('Actor', actor), field('Flag', flagKey), field('Environment', env), field('Since', since), field('Until', until),
    h('div', { class: 'field' }, h('button', { type: 'submit', dataset: { action: 'filter-audit' } }, 'Filter')));
  root.append(h('h1', {}, 'Audit log'), form, msg, count, list, more);

  let token = '';
  let shown = 0;
  const iso = (el) => (el.value ? new Date(el.value).toISOString() : '');
  const page = async () => {
    errorBanner(msg, null);
    try {
      const resp = await api.listAudit({
        actor: actor.value.trim(), flagKey: flagKey.value.trim(), environment: env.value, since: iso(since), until: iso(until), pageSize: 100, pageToken: token,
      });
      for (const e of resp.entries || []) {
        list.append(entry(e));
        shown++;
      }
      token = resp.nextPageToken || '';
      more.hidden = !token;
      count.textContent = `${shown} entr${shown === 1 ? 'y' : 'ies'}${token ? ' so far' : ''}.`;
    } catch (err) { errorBanner(msg, err); }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    list.replaceChildren();
    token = ''; shown = 0;
    page();
  });
  more.addEventListener('click', () => page());
  await page();
}
