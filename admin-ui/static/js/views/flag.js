// flag.js is one flag: its definition and variants, and per environment the
// kill switch, the rollout slider, the targeting editor and who has it.
// Every write carries the revision it was based on; a 409 shows the
// conflict banner with a Reload button instead of overwriting.

import { api, commented } from '../api.js';
import { h, field, select, clear, fmtTime, collapsible } from '../dom.js';
import { confirmDialog, conflictBanner, errorBanner, showFieldErrors, clearFieldErrors, toast } from '../ui.js';
import { rollout, serveShare, variantKeys, num } from '../model.js';
import { configEditor } from './config.js';
import { whoHasIt } from './clients.js';
import { releasePanel } from './release.js';
import { variantsEditor } from './variants.js';
import { splitList } from './flags.js';
import { canConfigure, canDefine, roleOf, lock, lockNote } from '../access.js';

export async function render(root, params, ctx) {
  const page = { stopWho: null, stopRelease: null };
  const cleanup = () => {
    if (page.stopWho) page.stopWho();
    if (page.stopRelease) page.stopRelease();
    page.stopWho = null;
    page.stopRelease = null;
  };

  const load = async () => {
    const [flagResp, envResp, segResp] = await Promise.all([
      api.getFlag(params.key), api.listEnvironments(), api.listSegments().catch(() => ({ segments: [] }))]);
    return {
      flag: flagResp.flag,
      configs: new Map((flagResp.configs || []).map((c) => [c.environment, c])),
      envs: envResp.environments || [],
      segments: segResp.segments || [],
    };
  };

  const show = async () => {
    cleanup();
    clear(root);
    const state = await load();
    state.me = ctx.session?.me;
    const env = params.env && state.configs.has(params.env) ? params.env
      : (state.envs.find((e) => state.configs.has(e.name))?.name || '');
    const reload = () => { show().catch((err) => errorBanner(root, err)); };
    const banner = h('div', { class: 'page-banner' });
    page.banner = banner;
    page.onConflict = (what) => conflictBanner(banner, what, reload);
    root.append(
      header(state.flag),
      banner,
      definition(state, page, reload),
      envTabs(state, env, ctx),
      envPanel(state, env, page, reload));
  };

  await show();
  return cleanup;
}

function header(flag) {
  return h('div', { class: 'spread' },
    h('div', {},
      h('p', { class: 'muted' }, h('a', { href: '#/flags' }, 'Flags'), ' / '),
      h('h1', { dataset: { flagKey: flag.key } }, flag.name || flag.key),
      h('p', {}, h('code', {}, flag.key), ' ',
        h('span', { class: 'badge' }, flag.type),
        flag.temporary ? h('span', { class: 'badge' }, 'Temporary') : h('span', { class: 'badge' }, 'Permanent'),
        flag.archived ? h('span', { class: 'badge warn' }, 'Archived') : null)),
    h('a', { class: 'button secondary', href: `#/flags/${encodeURIComponent(flag.key)}/history` }, 'History'));
}

// handleWriteError shows a write's failure: conflict banner, field errors
// next to their controls, or a message.
function handleWriteError(err, page, what, form, msg) {
  if (err.status === 409 && err.conflict) { page.onConflict(what); return; }
  const rest = form ? showFieldErrors(form, err.fieldViolations || []) : err.fieldViolations || [];
  if (!err.fieldViolations?.length || rest.length) {
    const text = rest.length ? rest.map((v) => `${v.field}: ${v.description}`).join('; ') : err.message;
    errorBanner(msg || page.banner, new Error(text));
  }
}

function definition(state, page, reload) {
  const { flag } = state;
  const section = h('section', { class: 'panel', 'aria-labelledby': 'def-title' });
  const view = () => {
    clear(section);
    const edit = h('button', { type: 'button', class: 'secondary', dataset: { action: 'edit-definition' } }, 'Edit definition');
    const archive = h('button', { type: 'button', class: 'secondary', dataset: { action: 'archive' } }, flag.archived ? 'Restore' : 'Archive');
    edit.addEventListener('click', () => editor());
    // An editor may not archive a flag that is live in a protected
    // environment (the server refuses it), nor may a viewer change anything.
    const liveProtected = state.envs.filter((e) => e.protected && state.configs.get(e.name)?.enabled).map((e) => e.name);
    const defineWhy = canDefine(state.me);
    const archiveWhy = defineWhy || (roleOf(state.me) !== 'admin' && liveProtected.length
      ? `admins only: ${flag.key} is enabled in protected ${liveProtected.join(', ')}` : '');
    archive.addEventListener('click', async () => {
      // The server refuses to archive a flag enabled in a protected
      // environment unless forced: this dialog is the confirmation, and
      // names those environments.
      const live = state.envs.filter((e) => e.protected && state.configs.get(e.name)?.enabled).map((e) => e.name);
      const warning = live.length ? ` It is enabled in protected ${live.join(', ')}: services there lose it now.` : '';
      const yes = await confirmDialog({
        title: flag.archived ? 'Restore flag?' : 'Archive flag?',
        body: flag.archived ? `Restore ${flag.key}? SDKs will serve it again.`
          : `Archive ${flag.key}? SDKs will answer FLAG_NOT_FOUND for it in every environment.${warning}`,
        confirm: flag.archived ? 'Restore' : 'Archive', danger: !flag.archived, comment: 'optional',
      });
      if (!yes) return;
      try {
        await commented(yes.comment).archiveFlag(flag.key, !flag.archived, num(flag.revision), true);
        toast(flag.archived ? 'Flag restored' : 'Flag archived');
        reload();
      } catch (err) { handleWriteError(err, page, 'flag'); }
    });
    const defNote = defineWhy ? lockNote(defineWhy) : null;
    const archNote = !defineWhy && archiveWhy ? lockNote(archiveWhy) : null;
    lock(edit, defineWhy, defNote);
    lock(archive, archiveWhy, defNote || archNote);
    section.append(
      h('div', { class: 'spread' }, h('h2', { id: 'def-title' }, 'Definition'), h('div', { class: 'actions' }, edit, archive)),
      ...[defNote || archNote].filter(Boolean),
      h('dl', { class: 'def' },
        h('dt', {}, 'Description'), h('dd', { dataset: { description: '' } }, flag.description ? collapsible(flag.description) : '—'),
        h('dt', {}, 'Tags'), h('dd', {}, (flag.tags || []).length ? flag.tags.map((t) => h('span', { class: 'tag' }, t)) : '—'),
        h('dt', {}, 'Owner'), h('dd', {}, flag.owner || '—'),
        h('dt', {}, 'Variants'), h('dd', {}, variantList(flag)),
        h('dt', {}, 'Revision'), h('dd', {}, `${num(flag.revision)}, updated ${fmtTime(flag.updateTime)}`)));
  };
  const editor = () => {
    clear(section);
    const name = h('input', { type: 'text', value: flag.name || '' });
    const description = h('textarea', { rows: 3, value: flag.description || '' });
    const tags = h('input', { type: 'text', value: (flag.tags || []).join(', ') });
    const owner = h('input', { type: 'text', value: flag.owner || '' });
    const temporary = h('input', { type: 'checkbox', checked: !!flag.temporary, id: 'def-temporary' });
    const variants = variantsEditor(flag.variants || [], flag.type);
    const comment = h('input', { type: 'text', maxlength: 1000 });
    const msg = h('div');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    cancel.addEventListener('click', view);
    const form = h('form', { novalidate: true, 'aria-labelledby': 'def-title' },
      h('h2', { id: 'def-title' }, 'Edit definition'), msg,
      h('div', { class: 'row' }, field('Name', name, { fieldPath: 'name' }), field('Owner', owner, { fieldPath: 'owner' })),
      field('Description', description, { fieldPath: 'description' }),
      field('Tags', tags, { fieldPath: 'tags', hint: 'Comma-separated.' }),
      h('div', { class: 'field' }, h('label', { class: 'check', for: temporary.id }, temporary, 'Temporary')),
      variants.el,
      field('Comment (optional)', comment, { fieldPath: 'comment', hint: 'Why: kept with the change in the audit log.' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', dataset: { action: 'save-definition' } }, 'Save definition'), cancel));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      let vars;
      try { vars = variants.value(); } catch (v) { showFieldErrors(form, [v]); return; }
      const next = {
        ...flag, name: name.value.trim(), description: description.value, tags: splitList(tags.value),
        owner: owner.value.trim(), temporary: temporary.checked,
        variants: flag.type === 'boolean' ? flag.variants : vars,
      };
      try {
        await commented(comment.value.trim()).updateFlag(next);
        toast('Definition saved');
        reload();
      } catch (err) { handleWriteError(err, page, 'flag', form, msg); }
    });
    section.append(form);
    name.focus();
  };
  view();
  return section;
}

function variantList(flag) {
  const vars = flag.variants || [];
  if (!vars.length) return flag.type === 'boolean' ? 'on = true, off = false' : '—';
  return h('ul', {}, vars.map((v) => h('li', {}, h('code', {}, v.key), ' = ', collapsible(JSON.stringify(v.value), { tag: 'code', limit: 200 }))));
}

function tabLabel(state, name) {
  return `${name} · ${rollout(state.flag, state.configs.get(name)).label}`;
}

// refreshTab updates an environment tab's at-a-glance label after a change.
function refreshTab(state, name) {
  const tab = document.querySelector(`[data-env-tab="${CSS.escape(name)}"]`);
  if (tab) tab.textContent = tabLabel(state, name);
}

function envTabs(state, current, ctx) {
  const list = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Environments' });
  const names = state.envs.map((e) => e.name).filter((n) => state.configs.has(n));
  names.forEach((name, i) => {
    const tab = h('button', {
      type: 'button', role: 'tab', id: `tab-${name}`, 'aria-selected': name === current ? 'true' : 'false',
      'aria-controls': 'env-panel', tabindex: name === current ? '0' : '-1', dataset: { envTab: name },
    }, tabLabel(state, name));
    tab.addEventListener('click', () => ctx.navigate(`#/flags/${encodeURIComponent(state.flag.key)}/env/${encodeURIComponent(name)}`));
    tab.addEventListener('keydown', (ev) => {
      const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (!d) return;
      const next = list.querySelectorAll('[role=tab]')[(i + d + names.length) % names.length];
      next.focus();
      next.click();
    });
    list.append(tab);
  });
  return list;
}

function envPanel(state, envName, page, reload) {
  const { flag } = state;
  const panel = h('section', { id: 'env-panel', role: 'tabpanel', 'aria-labelledby': `tab-${envName}`, dataset: { env: envName } });
  if (!envName) { panel.append(h('p', { class: 'muted' }, 'No environment.')); return panel; }
  const env = state.envs.find((e) => e.name === envName) || { name: envName };
  let config = state.configs.get(envName);
  const variants = variantKeys(flag);
  const draft = structuredClone(config);
  draft.rules = draft.rules || [];
  draft.defaultServe = draft.defaultServe || { variant: variants[0] || '' };

  // Every change in a protected environment asks first, and so does every
  // change in one that requires a comment: the dialog takes it.
  const sensitive = !!env.protected || !!env.requireComment;
  const ask = { comment: env.requireComment ? 'required' : 'optional', requiredBy: envName };
  // Controls the signed-in role cannot use show disabled, with the reason.
  const why = canConfigure(state.me, env);
  const note = why ? lockNote(why) : null;
  const quick = h('div');
  const drawQuick = () => {
    clear(quick);
    quick.append(killSwitch(), rolloutControl());
    lock(quick, why, note);
  };
  const applied = (next, what) => {
    config = next;
    state.configs.set(envName, next);
    // the user's own quick change: carry it into the unsaved draft
    draft.enabled = next.enabled;
    draft.defaultServe = structuredClone(next.defaultServe || {});
    draft.revision = next.revision;
    drawQuick();
    editor.redraw();
    refreshTab(state, envName);
    toast(what);
  };

  const killSwitch = () => {
    const on = !!config.enabled;
    let said = '';
    const btn = h('button', {
      type: 'button', class: on ? 'danger' : '', 'aria-pressed': on ? 'true' : 'false',
      dataset: { action: 'toggle', env: envName },
    }, on ? `Turn off in ${envName}` : `Turn on in ${envName}`);
    btn.addEventListener('click', async () => {
      if (sensitive) {
        const yes = await confirmDialog({
          title: `${on ? 'Turn off' : 'Turn on'} ${flag.key} in ${envName}?`,
          body: on ? `Every SDK in ${envName} will serve the off variant of ${flag.key} within seconds.`
            : `Every SDK in ${envName} will start serving ${flag.key} by its targeting within seconds.`,
          confirm: on ? 'Turn off' : 'Turn on', danger: on, ...ask,
        });
        if (!yes) return;
        said = yes.comment;
      }
      btn.disabled = true;
      try {
        const resp = await commented(said).setEnabled(flag.key, envName, !on, num(config.revision));
        applied(resp.config, `${flag.key} is ${on ? 'off' : 'on'} in ${envName}`);
      } catch (err) {
        btn.disabled = false;
        handleWriteError(err, page, 'flag');
      }
    });
    return h('div', { class: 'panel switch-row' },
      h('div', {},
        h('h2', {}, `Kill switch in ${envName}`),
        h('p', { dataset: { state: on ? 'on' : 'off' } },
          h('span', { class: on ? 'badge on' : 'badge' }, on ? 'On' : 'Off'),
          ' ', on ? 'Serving by the targeting below.' : `Serving the off variant${config.offVariant ? ` (${config.offVariant})` : ''}.`)),
      btn);
  };

  const rolloutControl = () => {
    // The default serve as it is, enabled or not: a disabled flag keeps its
    // split, and the slider must start from it, not from 0.
    const r = serveShare(flag, config);
    const start = r.percent ?? 0;
    const lossy = r.variants > 2 || !!r.bucketBy;
    const range = h('input', { type: 'range', min: 0, max: 100, step: 1, value: String(Math.round(start)), name: 'percent' });
    const out = h('output', { 'aria-live': 'polite' }, `${Math.round(start)}%`);
    const number = h('input', { type: 'number', min: 0, max: 100, step: 1, value: String(Math.round(start)), name: 'percent-number' });
    const sync = (src) => {
      const v = Math.max(0, Math.min(100, Math.round(Number(src.value) || 0)));
      range.value = String(v); out.textContent = `${v}%`;
      if (src !== number) number.value = String(v);
    };
    range.addEventListener('input', () => sync(range));
    number.addEventListener('input', () => sync(number));
    const isBool = flag.type === 'boolean';
    const variant = select(variants, isBool ? 'on' : (r.variant || variants[0] || ''), { name: 'rollout-variant' });
    const rest = select(variants, isBool ? 'off' : (r.rest || config.offVariant || variants[1] || variants[0] || ''), { name: 'rollout-rest' });
    const note = lossy ? h('p', { class: 'banner warn', dataset: { rolloutNote: '' } },
      `The default serve is a split of ${r.variants} variants${r.bucketBy ? ` bucketed by ${r.bucketBy}` : ''}: `,
      'the slider shows the first variant\'s share; applying a rollout replaces the split with two variants.') : null;
    const apply = h('button', { type: 'button', dataset: { action: 'apply-rollout' } }, 'Apply rollout');
    const msg = h('div');
    const box = h('div', { class: 'panel' },
      h('h2', {}, 'Percentage rollout'),
      h('p', { class: 'hint' }, 'Sets the default serve to a split. The rolled-out variant stays first, so raising the percentage keeps everyone already in.'),
      note, msg,
      h('div', { class: 'slider-row' },
        field(`Percentage of contexts served ${isBool ? 'on' : 'the variant'}`, range, { fieldPath: 'percent' }),
        out,
        field('Exact percentage', number)),
      isBool ? null : h('div', { class: 'row' },
        field('Variant rolled out', variant, { fieldPath: 'variant' }),
        field('Everyone else gets', rest, { fieldPath: 'restVariant' })),
      h('div', { class: 'actions' }, apply,
        config.enabled ? null : h('span', { class: 'hint' }, `The flag is off in ${envName}: the rollout applies once it is turned on.`)));
    apply.addEventListener('click', async () => {
      let yes = true;
      if (lossy) {
        yes = await confirmDialog({
          title: `Replace the split in ${envName}?`,
          body: `The default serve of ${flag.key} in ${envName} is a split of ${r.variants} variants${r.bucketBy ? ` bucketed by ${r.bucketBy}` : ''}. `
            + `This rollout replaces it with ${range.value}% ${isBool ? 'on' : variant.value} and the rest ${isBool ? 'off' : rest.value}.`,
          confirm: 'Replace split', danger: true, ...ask,
        });
      } else if (sensitive) {
        yes = await confirmDialog({
          title: `Roll ${flag.key} out to ${range.value}% in ${envName}?`,
          body: `${env.protected ? `${envName} is protected. ` : ''}Every SDK in ${envName} will serve ${isBool ? 'on' : variant.value} to ${range.value}% of contexts`
            + `${config.enabled ? ' within seconds' : ' once the flag is turned on'}.`,
          confirm: 'Apply rollout', ...ask,
        });
      }
      if (!yes) return;
      apply.disabled = true;
      errorBanner(msg, null);
      clearFieldErrors(box);
      try {
        const resp = await commented(yes.comment).setRollout(flag.key, envName, Number(range.value), num(config.revision),
          isBool ? '' : variant.value, isBool ? '' : rest.value);
        applied(resp.config, `${flag.key} rolled out to ${range.value}% in ${envName}`);
      } catch (err) {
        apply.disabled = false;
        handleWriteError(err, page, 'flag', box, msg);
      }
    });
    return box;
  };

  const editor = configEditor({
    draft, variants, segments: state.segments,
    onSave: async (d, { form, msg, save }) => {
      clearFieldErrors(form);
      errorBanner(msg, null);
      const yes = !sensitive || await confirmDialog({
        title: `Save targeting of ${flag.key} in ${envName}?`,
        body: `${env.protected ? `${envName} is protected. ` : ''}Every SDK in ${envName} will serve by the new rules and default within seconds.`,
        confirm: 'Save targeting', ...ask,
      });
      if (!yes) return;
      save.disabled = true;
      try {
        const resp = await commented(yes.comment).replaceFlagConfig({ ...d, flagKey: flag.key, environment: envName });
        const next = resp.config;
        config = next;
        state.configs.set(envName, next);
        Object.assign(draft, structuredClone(next));
        draft.rules = draft.rules || [];
        drawQuick();
        editor.redraw();
        refreshTab(state, envName);
        toast(`Targeting saved in ${envName}`);
        msg.append(h('div', { class: 'banner ok', role: 'status', dataset: { saved: '' } }, `Saved (revision ${num(next.revision)}).`));
      } catch (err) {
        handleWriteError(err, page, 'flag', form, msg);
      } finally {
        save.disabled = false;
      }
    },
  });

  drawQuick();
  lock(editor.el, why, note);
  const who = whoHasIt(envName, flag.key);
  page.stopWho = who.stop;
  const release = releasePanel(envName, flag.key, { why, sensitive });
  page.stopRelease = release.stop;
  if (note) panel.append(note);
  panel.append(
    h('div', { class: 'env-grid' },
      h('div', {}, quick, h('section', { class: 'panel', 'aria-labelledby': 'targeting-title' },
        h('h2', { id: 'targeting-title' }, `Targeting in ${envName}`), editor.el)),
      h('div', {}, release.el, who.el)));
  return panel;
}
