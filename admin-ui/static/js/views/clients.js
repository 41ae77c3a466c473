// clients.js is "who has it": the SDK instances connected to an environment
// and whether each applied the environment's latest revision. It polls the
// server while shown; the returned stop function ends the polling.

import { withSignal } from '../api.js';
import { h, clear, fmtTime } from '../dom.js';
import { num } from '../model.js';
import { bucketSeries, dayBuckets, hourlySeries, usageChart, weekHours } from '../chart.js';

const interval = 1500;

export function whoHasIt(env, flagKey) {
  const usageLine = h('p', { class: 'hint', dataset: { usage: '' } });
  const chartSlot = h('div');
  // The chart shows the last day per hour or the last week per day.
  let span = 'day';
  const spanButtons = [['day', 'Last day'], ['week', 'Last week']].map(([value, text]) => {
    const b = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': String(value === span), dataset: { chartSpan: value } }, text);
    b.addEventListener('click', () => {
      if (span === value) return;
      span = value;
      for (const o of spanButtons) o.setAttribute('aria-pressed', String(o.dataset.chartSpan === span));
      loadUsage();
    });
    return b;
  });
  const spanToggle = h('div', { class: 'actions chart-span', role: 'group', 'aria-label': 'Evaluations chart period' }, spanButtons);
  const status = h('p', { class: 'muted', 'aria-live': 'polite', dataset: { clientsSummary: '' } }, 'Loading connected instances…');
  const tbody = h('tbody');
  const table = h('table', { class: 'clients' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Instance'),
      h('th', { scope: 'col' }, 'SDK'), h('th', { scope: 'col' }, 'Revision'),
      h('th', { scope: 'col' }, 'Connected'))),
    tbody);
  const wrap = h('div', { class: 'table-wrap', hidden: true }, table);
  const el = h('section', { class: 'panel', 'aria-labelledby': `who-${env}`, dataset: { who: env } },
    h('h3', { id: `who-${env}` }, `Who has it in ${env}`),
    status,
    wrap,
    usageLine,
    spanToggle,
    chartSlot);

  const ctrl = new AbortController();
  let timer = null;
  let rounds = 0;
  const poll = async () => {
    try {
      const resp = await withSignal(ctrl.signal, 'listClients', env);
      draw(resp);
      if (rounds++ % 10 === 0) await loadUsage();
    } catch (err) {
      if (ctrl.signal.aborted) return;
      status.textContent = `Could not load connected instances: ${err.message}`;
    }
    if (!ctrl.signal.aborted) timer = setTimeout(poll, interval);
  };
  const draw = (resp) => {
    const latest = num(resp.revision);
    const clients = resp.clients || [];
    const current = clients.filter((c) => num(c.appliedRevision) >= latest).length;
    status.textContent = clients.length === 0
      ? `No SDK instance is connected to ${env}. Latest revision: ${latest}.`
      : `${current} of ${clients.length} instance${clients.length === 1 ? '' : 's'} applied the latest revision ${latest}.`;
    wrap.hidden = clients.length === 0;
    clear(tbody);
    for (const c of clients) {
      const applied = num(c.appliedRevision);
      const ok = applied >= latest;
      tbody.append(h('tr', { dataset: { instance: c.instanceId || '' } },
        h('td', {}, c.serviceName || '—'),
        h('td', { class: 'mono' }, c.instanceId || ''),
        h('td', {}, [c.sdkName, c.sdkVersion].filter(Boolean).join(' ')),
        h('td', { class: ok ? 'ok' : 'behind' }, ok ? `${applied} ✓ latest` : `${applied} (behind ${latest - applied})`),
        h('td', {}, fmtTime(c.connectTime))));
    }
  };
  const loadUsage = async () => {
    const now = Date.now();
    const want = span;
    const resp = await withSignal(ctrl.signal, 'getFlagUsage', flagKey, env, want === 'week' ? weekHours(now) : '').catch(() => null);
    if (want === span) drawUsage(resp, now);
  };
  const drawUsage = (resp, now) => {
    const u = resp?.usage?.find((x) => x.environment === env);
    if (!u) { usageLine.textContent = ''; clear(chartSlot); return; }
    clear(chartSlot);
    const series = span === 'week' ? bucketSeries(u.hourly, dayBuckets(now)) : hourlySeries(u.hourly, now);
    chartSlot.append(usageChart(series, { span }));
    const services = (u.services || []).map((x) => x.name).filter(Boolean);
    usageLine.textContent = u.lastEvaluateTime
      ? `Last evaluated ${fmtTime(u.lastEvaluateTime)}${services.length ? ` by ${services.join(', ')}` : ''}; ${num(u.evaluationsLastDay)} evaluations in the last day.`
      : 'Never evaluated here.';
    if (u.stale) usageLine.textContent += ` Stale: ${staleWhy[u.staleReason] || 'no recent use'}.`;
  };
  poll();
  return {
    el,
    stop() { ctrl.abort(); clearTimeout(timer); },
  };
}

// staleWhy explains the stale marker: a flag nobody needs any more is a
// candidate for removal from code and from Flagpole.
export const staleWhy = {
  never_evaluated: 'never evaluated here since it was created — no service asks for it; remove it or check the key in code',
  not_evaluated: 'not evaluated here for the stale period — the code that asked for it may be gone',
  single_variant: 'served one variant to everyone for the stale period — the release is done; make it permanent in code and remove the flag',
};
