// history.js lists a flag's audit entries, newest first, each with a
// readable before/after diff. Audit data is shown as text only.

import { api } from '../api.js';
import { h, clear, fmtTime } from '../dom.js';
import { diff, show } from '../diff.js';

export async function render(root, params) {
  const list = h('div', { class: 'panel', dataset: { history: params.key } });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older entries');
  root.append(
    h('p', { class: 'muted' }, h('a', { href: '#/flags' }, 'Flags'), ' / ',
      h('a', { href: `#/flags/${encodeURIComponent(params.key)}` }, params.key), ' / '),
    h('h1', {}, `History of ${params.key}`),
    list, more);
  let token = '';
  const page = async () => {
    const resp = await api.listAudit({ flagKey: params.key, pageSize: 50, pageToken: token });
    const entries = resp.entries || [];
    if (!token && entries.length === 0) list.append(h('p', { class: 'muted' }, 'No changes recorded.'));
    for (const e of entries) list.append(entry(e));
    token = resp.nextPageToken || '';
    more.hidden = !token;
  };
  more.addEventListener('click', () => page());
  await page();
}

function entry(e) {
  const rows = diff(e.before, e.after);
  const what = [e.action, e.environment ? `in ${e.environment}` : ''].filter(Boolean).join(' ');
  return h('article', { class: 'audit-entry', dataset: { auditId: String(e.id || '') } },
    h('div', { class: 'spread' },
      h('strong', {}, what),
      h('span', { class: 'muted' }, `${fmtTime(e.time)} · ${e.actor || 'unknown'}${e.actorKind ? ` (${e.actorKind})` : ''}${e.source ? ` via ${e.source}` : ''}`)),
    rows.length === 0 ? h('p', { class: 'muted' }, 'No visible change.')
      : h('div', { class: 'table-wrap' }, h('table', { class: 'diff' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
        h('tbody', {}, rows.map((r) => h('tr', { dataset: { kind: r.kind } },
          h('td', {}, r.path),
          h('td', { class: r.kind === 'added' ? '' : 'before' }, show(r.before)),
          h('td', { class: r.kind === 'removed' ? '' : 'after' }, show(r.after))))))));
}
