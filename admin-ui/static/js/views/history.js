// history.js lists a flag's audit entries, newest first, each with a
// readable before/after diff. Audit data is shown as text only.

import { api } from '../api.js';
import { h, clear, fmtTime, collapsible } from '../dom.js';
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

// shownRows is how many changed fields an entry lists before "Show all".
const shownRows = 12;

export function entry(e) {
  const rows = diff(e.before, e.after);
  const what = [e.action, e.environment ? `in ${e.environment}` : ''].filter(Boolean).join(' ');
  const trs = rows.map((r, i) => h('tr', { dataset: { kind: r.kind }, hidden: i >= shownRows },
    h('td', {}, r.path),
    h('td', { class: r.kind === 'added' ? '' : 'before' }, collapsible(show(r.before), { limit: 300 })),
    h('td', { class: r.kind === 'removed' ? '' : 'after' }, collapsible(show(r.after), { limit: 300 }))));
  let more = null;
  if (rows.length > shownRows) {
    more = h('button', { type: 'button', class: 'secondary small', 'aria-expanded': 'false', dataset: { action: 'expand' } },
      `Show all ${rows.length} changed fields`);
    more.addEventListener('click', () => {
      for (const tr of trs) tr.hidden = false;
      more.remove();
    });
  }
  return h('article', { class: 'audit-entry', dataset: { auditId: String(e.id || '') } },
    h('div', { class: 'spread' },
      h('strong', {}, what),
      h('span', { class: 'muted', dataset: { auditMeta: '' } }, `${fmtTime(e.time)} · ${e.actor || 'unknown'}${e.actorKind ? ` (${e.actorKind})` : ''}${e.source ? ` via ${e.source}` : ''}`)),
    e.comment ? h('p', { class: 'comment', dataset: { comment: '' } }, 'Comment: ', collapsible(e.comment)) : null,
    rows.length === 0 ? h('p', { class: 'muted' }, 'No visible change.')
      : h('div', { class: 'table-wrap' }, h('table', { class: 'diff' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
        h('tbody', {}, trs))),
    more);
}
