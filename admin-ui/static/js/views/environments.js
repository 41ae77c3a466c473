// environments.js lists environments with their revisions and creates,
// protects them or makes them require a comment on every change.

import { canAdminister, lock, lockNote } from '../access.js';
import { api, commented } from '../api.js';
import { h, field, fmtTime } from '../dom.js';
import { errorBanner, showFieldErrors, clearFieldErrors, toast, confirmDialog } from '../ui.js';
import { num } from '../model.js';

export async function render(root, _params, ctx) {
  const resp = await api.listEnvironments();
  const envs = resp.environments || [];
  const msg = h('div');
  const rows = envs.map((e) => {
    // A change of an environment that requires comments needs one too.
    const ask = () => ({ comment: e.requireComment ? 'required' : 'optional', requiredBy: e.name });
    const prot = h('input', { type: 'checkbox', checked: !!e.protected, id: `prot-${e.name}` });
    prot.addEventListener('change', async () => {
      // Protection keeps editors out; lifting it is one click no more.
      const lifting = !prot.checked;
      let yes;
      if (!(yes = await confirmDialog(lifting ? {
        title: `Unprotect ${e.name}?`,
        body: `Editors will be able to change every flag in ${e.name}${e.requireComment ? ' (with a comment, which it still requires)' : ', and changes there will no longer ask for confirmation'}.`,
        confirm: 'Unprotect', danger: true, ...ask(),
      } : {
        title: `Protect ${e.name}?`,
        body: `Only admins will be able to change flags in ${e.name}, and every change there will ask for confirmation.`,
        confirm: 'Protect', ...ask(),
      }))) { prot.checked = !prot.checked; return; }
      try {
        const resp = await commented(yes.comment).updateEnvironment({ ...e, protected: prot.checked });
        Object.assign(e, resp.environment || {});
        toast(`${e.name} is ${prot.checked ? 'protected' : 'no longer protected'}`);
      } catch (err) { prot.checked = !prot.checked; errorBanner(msg, err); }
    });
    const req = h('input', { type: 'checkbox', checked: !!e.requireComment, id: `req-${e.name}`, dataset: { requireComment: e.name } });
    req.addEventListener('change', async () => {
      const yes = await confirmDialog(req.checked ? {
        title: `Require a comment on every change in ${e.name}?`,
        body: `Every change to ${e.name} (toggle, rollout, targeting, apply, release plan) will be refused without a comment saying why.`,
        confirm: 'Require comments', ...ask(),
      } : {
        title: `Stop requiring comments in ${e.name}?`,
        body: `Changes to ${e.name} will be accepted without a comment.`,
        confirm: 'Stop requiring', danger: true, ...ask(),
      });
      if (!yes) { req.checked = !req.checked; return; }
      try {
        const resp = await commented(yes.comment).updateEnvironment({ ...e, requireComment: req.checked });
        Object.assign(e, resp.environment || {});
        toast(`${e.name} ${req.checked ? 'requires' : 'no longer requires'} a comment on every change`);
      } catch (err) { req.checked = !req.checked; errorBanner(msg, err); }
    });
    const del = h('button', { type: 'button', class: 'secondary small' }, 'Delete');
    del.setAttribute('aria-label', `Delete environment ${e.name}`);
    del.addEventListener('click', async () => {
      const yes = await confirmDialog({ title: `Delete environment ${e.name}?`, body: `Every flag configuration in ${e.name} is deleted and its SDKs lose their flags.`, confirm: 'Delete', danger: true, ...ask() });
      if (!yes) return;
      try { await commented(yes.comment).deleteEnvironment(e.name); toast('Environment deleted'); ctx.navigate('#/environments'); } catch (err) { errorBanner(msg, err); }
    });
    return h('tr', { dataset: { environment: e.name } },
      h('td', { class: 'key' }, h('code', {}, e.name), e.description ? h('span', { class: 'name' }, e.description) : null),
      h('td', {}, String(num(e.revision))),
      h('td', {}, h('label', { class: 'check', for: prot.id }, prot, 'Protected (admins only)')),
      h('td', {}, h('label', { class: 'check', for: req.id }, req, 'Comment required')),
      h('td', {}, fmtTime(e.createTime)),
      h('td', {}, del));
  });
  const name = h('input', { type: 'text', spellcheck: 'false' });
  const description = h('input', { type: 'text' });
  const protectedBox = h('input', { type: 'checkbox', id: 'new-env-protected' });
  const requireBox = h('input', { type: 'checkbox', id: 'new-env-require-comment' });
  const form = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'env-new' },
    h('h2', { id: 'env-new' }, 'New environment'),
    h('div', { class: 'row' }, field('Name', name, { fieldPath: 'name' }), field('Description', description, { fieldPath: 'description' })),
    h('div', { class: 'field' }, h('label', { class: 'check', for: protectedBox.id }, protectedBox, 'Protected')),
    h('div', { class: 'field' }, h('label', { class: 'check', for: requireBox.id }, requireBox, 'Require a comment on every change')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create environment')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    try {
      const env = { name: name.value.trim(), description: description.value.trim(), protected: protectedBox.checked, requireComment: requireBox.checked };
      // Creating one that requires comments needs one: the dialog asks.
      const yes = !env.requireComment || await confirmDialog({
        title: `Create ${env.name || 'the environment'}?`, body: 'It will require a comment on every change, this one too.',
        confirm: 'Create environment', comment: 'required', requiredBy: env.name,
      });
      if (!yes) return;
      await commented(yes.comment).createEnvironment(env);
      toast('Environment created');
      ctx.navigate('#/environments');
    } catch (err) {
      const rest = showFieldErrors(form, err.fieldViolations || []);
      if (!err.fieldViolations?.length || rest.length) errorBanner(msg, err);
    }
  });
  const why = canAdminister(ctx.session?.me);
  const note = why ? lockNote(why) : null;
  root.append(h('h1', {}, 'Environments'), ...(note ? [note] : []), msg,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Environment', 'Revision', 'Protection', 'Comments', 'Created', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows))),
    h('p'), form);
  lock(root, why, note);
}
