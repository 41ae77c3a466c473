// webhooks.js is the admin-only Webhooks page: subscriptions (create with
// the signing secret shown once, test, delete) and recent deliveries, failed
// ones marked.

import { api, commented } from '../api.js';
import { h, field, fmtTime, clear } from '../dom.js';
import { errorBanner, showFieldErrors, clearFieldErrors, toast, confirmDialog } from '../ui.js';

const kinds = ['flag.changed', 'config.changed', 'segment.changed', 'environment.changed', 'token.changed',
  'user.changed', 'webhook.changed', 'release.step', 'release.completed', 'release.rolled_back'];

export async function render(root, _params, ctx) {
  const [hookResp, envResp, delResp] = await Promise.all([
    api.listWebhooks(), api.listEnvironments(), api.listDeliveries({ pageSize: 50 })]);
  const hooks = hookResp.webhooks || [];
  const envs = (envResp.environments || []).map((e) => e.name);
  const deliveries = delResp.deliveries || [];
  const msg = h('div');
  const secretSlot = h('div');

  const url = h('input', { type: 'url', spellcheck: 'false', autocomplete: 'off', placeholder: 'https://receiver.internal/flagpole' });
  const slack = h('input', { type: 'checkbox', id: 'wh-slack' });
  const kindBoxes = kinds.map((k) => h('input', { type: 'checkbox', value: k, id: `wh-kind-${k}`, checked: k === 'config.changed' }));
  const envBoxes = envs.map((e) => h('input', { type: 'checkbox', value: e, id: `wh-env-${e}` }));
  const boxes = (legend, path, list) => h('fieldset', { class: 'field', dataset: { field: path } },
    h('legend', {}, legend), list.map((b) => h('label', { class: 'check', for: b.id }, b, b.value)));
  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'wh-new' },
    h('h2', { id: 'wh-new' }, 'New webhook'),
    field('URL', url, { fieldPath: 'url', hint: 'Link-local and cloud metadata addresses are refused unless the server allows them.' }),
    boxes('Events', 'events', kindBoxes),
    boxes('Environments (none: all)', 'environments', envBoxes),
    h('label', { class: 'check', for: slack.id }, slack, 'Slack incoming-webhook body'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', dataset: { action: 'create-webhook' } }, 'Create webhook')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    errorBanner(msg, null);
    const checked = (list) => list.filter((b) => b.checked).map((b) => b.value);
    try {
      const resp = await api.createWebhook({ url: url.value.trim(), events: checked(kindBoxes), environments: checked(envBoxes), slack: slack.checked });
      showSecret(secretSlot, resp, ctx);
    } catch (err) {
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) errorBanner(msg, err);
    }
  });

  const rows = hooks.map((w) => {
    const test = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Test webhook ${w.id}` }, 'Test');
    test.addEventListener('click', async () => {
      try {
        const r = await api.testWebhook(w.id);
        if (r.error) errorBanner(msg, new Error(`Test of ${w.id}: ${r.error}`));
        else toast(`${w.id} answered ${r.status}`);
      } catch (err) { errorBanner(msg, err); }
    });
    const del = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Delete webhook ${w.id}` }, 'Delete');
    del.addEventListener('click', async () => {
      const yes = await confirmDialog({ title: `Delete ${w.id}?`, body: 'Its pending deliveries are dropped.', confirm: 'Delete', danger: true, comment: 'optional' });
      if (!yes) return;
      try { await commented(yes.comment).deleteWebhook(w.id); toast(`${w.id} deleted`); ctx.navigate('#/webhooks'); } catch (err) { errorBanner(msg, err); }
    });
    return h('tr', { dataset: { webhook: w.id } },
      h('td', { class: 'key' }, h('code', {}, w.id), h('span', { class: 'name mono' }, w.url)),
      h('td', {}, (w.events || []).join(', ')),
      h('td', {}, (w.environments || []).join(', ') || 'all'),
      h('td', {}, w.slack ? 'Slack' : 'JSON'),
      h('td', {}, fmtTime(w.createTime), w.createdBy ? h('span', { class: 'name' }, `by ${w.createdBy}`) : null),
      h('td', {}, test, ' ', del));
  });
  const delRows = deliveries.map((d) => h('tr', { dataset: { delivery: d.id, state: d.state }, class: d.state === 'failed' ? 'failed' : null },
    h('td', {}, h('code', {}, d.id)),
    h('td', {}, d.webhookId),
    h('td', {}, d.kind),
    h('td', {}, d.state === 'failed' ? h('strong', { class: 'field-error' }, 'FAILED') : d.state),
    h('td', {}, String(d.attempts || 0)),
    h('td', {}, d.lastStatus ? String(d.lastStatus) : '—', d.lastError ? h('span', { class: 'name' }, d.lastError) : null),
    h('td', {}, fmtTime(d.createTime))));
  const table = (head, body) => h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, body)));
  root.append(h('h1', {}, 'Webhooks'), msg, secretSlot, form,
    hooks.length === 0 ? h('p', { class: 'muted' }, 'No webhooks.') : table(['Webhook', 'Events', 'Environments', 'Body', 'Created', 'Actions'], rows),
    h('h2', {}, 'Recent deliveries'),
    deliveries.length === 0 ? h('p', { class: 'muted' }, 'No deliveries.') : table(['Delivery', 'Webhook', 'Kind', 'State', 'Attempts', 'Last answer', 'Created'], delRows));
}

function showSecret(slot, resp, ctx) {
  clear(slot);
  const done = h('button', { type: 'button' }, 'I have copied it');
  done.addEventListener('click', () => ctx.navigate('#/webhooks'));
  slot.append(h('div', { class: 'panel', role: 'status', dataset: { secretShown: '' } },
    h('h2', {}, `Webhook ${resp.webhook?.id || ''} created`),
    h('p', {}, 'Copy the signing secret now. It is shown only this once; receivers verify the Flagpole-Signature header with it.'),
    h('p', { class: 'secret', tabindex: '0', 'aria-label': 'Signing secret', dataset: { secret: '' } }, resp.secret || ''),
    h('div', { class: 'actions' }, done)));
  done.focus();
}
