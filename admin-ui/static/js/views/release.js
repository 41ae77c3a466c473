// release.js is a flag's release plan in one environment, on the flag
// page: the plan as a timeline of its steps (the current one marked, when
// each was applied) with its state, and the guard's chart: for a rate
// guard the event's rate of the new variant and of the control per step,
// for a mean guard (latency) each variant's mean value minute by minute
// with the steps marked; with the decision in words and numbers. The chart is SVG drawn here (no library), labelled for
// screen readers, focusable, and backed by a table of the same numbers.
// An active plan can be paused, resumed and cancelled here, by the roles
// that may change the environment. While the plan is active the panel
// polls; the returned stop ends it.

import { api, withSignal } from '../api.js';
import { h, clear, fmtTime } from '../dom.js';
import { num } from '../model.js';
import { confirmDialog, errorBanner, toast } from '../ui.js';
import { lock, lockNote } from '../access.js';

const interval = 3000;
const NS = 'http://www.w3.org/2000/svg';
const colors = { new: '#b42318', control: '#1f6feb' };
const activeStates = new Set(['scheduled', 'running', 'paused']);

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

// releasePanel returns {el, stop}: el is empty (hidden) while the flag has
// no plan in env. why, when set, is why the signed-in user may not pause,
// resume or cancel (access.js); sensitive asks before each of them.
export function releasePanel(env, flagKey, { why = '', sensitive = false } = {}) {
  const el = h('section', { class: 'panel release', 'aria-labelledby': `release-${env}`, hidden: true, dataset: { release: env } });
  const ctrl = new AbortController();
  let timer = null;
  const poll = async () => {
    let active = false;
    try {
      const resp = await withSignal(ctrl.signal, 'listReleasePlans', { environment: env, flagKey });
      const plan = (resp.plans || [])[0];
      if (plan) {
        active = activeStates.has(plan.state);
        const [audit, signals] = await Promise.all([
          withSignal(ctrl.signal, 'listAudit', { flagKey, environment: env, pageSize: 200 }).catch(() => ({ entries: [] })),
          plan.guard ? withSignal(ctrl.signal, 'listSignals', flagKey, env, plan.startedTime || plan.createTime).catch(() => null) : null,
        ]);
        draw(el, env, plan, stepTimes(plan, audit.entries || []), signals);
        if (active) el.append(controls(env, plan, { why, sensitive, after: refresh }));
      }
    } catch (err) {
      if (ctrl.signal.aborted) return;
      el.hidden = false;
      clear(el);
      el.append(h('h3', { id: `release-${env}` }, `Release plan in ${env}`), h('p', { class: 'muted' }, `Could not load the release plan: ${err.message}`));
      active = true; // try again
    }
    if (active && !ctrl.signal.aborted) timer = setTimeout(poll, interval);
  };
  const refresh = () => { clearTimeout(timer); poll(); };
  poll();
  return { el, stop: () => { ctrl.abort(); clearTimeout(timer); } };
}

// stepTimes reads when each step of plan was (last) applied from the
// audit trail: the configuration changes the plan made are by
// "release-plan/ID step N/M". The current step's time is the plan's own.
export function stepTimes(plan, entries) {
  const times = new Map();
  const prefix = `release-plan/${num(plan.id)} step `;
  for (const e of entries) {
    const actor = String(e.actor || '');
    if (e.action !== 'release.step' || !actor.includes(prefix)) continue;
    const n = parseInt(actor.slice(actor.indexOf(prefix) + prefix.length), 10);
    const t = Date.parse(e.time);
    if (n > 0 && !Number.isNaN(t) && !(times.get(n) >= t)) times.set(n, t);
  }
  const cur = Number(plan.step || 0);
  if (cur > 0 && plan.stepStartTime) times.set(cur, Date.parse(plan.stepStartTime));
  return times;
}

// stepRates sums the guard's event and the exposures of the new variant
// and the control per step. Counts are per minute: each minute counts in
// the step that was running at its middle. The deciding step's numbers
// come from the plan's evidence instead (the guard's own window).
export function stepRates(plan, times, signals) {
  const steps = (plan.steps || []).map((st, i) => ({ n: i + 1, percent: st.percent, start: times.get(i + 1),
    new: { exposures: 0, events: 0 }, control: { exposures: 0, events: 0 } }));
  const started = steps.filter((st) => st.start !== undefined);
  const end = plan.endTime ? Date.parse(plan.endTime) : Infinity;
  const stepAt = (t) => {
    if (t > end + 30e3) return null;
    let found = null;
    for (const st of started) if (st.start <= t) found = st;
    return found;
  };
  const arm = (variant) => (variant === plan.variant ? 'new' : variant === plan.control ? 'control' : '');
  const add = (rec, field) => {
    const a = arm(rec.variant);
    const st = a && stepAt(Date.parse(rec.minuteTime) + 30e3);
    if (st) st[a][field] += num(rec.count);
  };
  for (const e of signals?.exposures || []) add(e, 'exposures');
  for (const e of signals?.events || []) if (e.event === plan.guard?.event) add(e, 'events');
  const ev = evidence(plan);
  for (const st of steps) {
    st.measured = st.new.exposures > 0 || st.control.exposures > 0;
    if (ev && Number(ev.step) === st.n && ev.new) {
      st.decided = ev.verdict;
      st.new = { exposures: num(ev.new.samples), events: num(ev.new.events) };
      st.control = { exposures: num(ev.control?.samples), events: num(ev.control?.events) };
      st.baseline = !!ev.baseline;
      st.measured = true;
    }
    st.newRate = st.new.exposures ? st.new.events / st.new.exposures : null;
    st.controlRate = st.control.exposures ? st.control.events / st.control.exposures : null;
  }
  return steps;
}

function evidence(plan) {
  const ev = plan.evidence;
  // A plan's evidence is the guard decision that last moved it; a plan that
  // just started carries only its start mark (step 0, no verdict).
  return ev && typeof ev === 'object' && ev.verdict && Number(ev.step) > 0 ? ev : null;
}

// fmtHold reads a protobuf JSON duration ("3600s") as 1h, 90s as 1m30s.
export function fmtHold(d) {
  const secs = parseFloat(String(d || ''));
  if (!Number.isFinite(secs)) return '—';
  const hh = Math.floor(secs / 3600);
  const mm = Math.floor((secs % 3600) / 60);
  const ss = Math.round((secs % 60) * 1000) / 1000;
  return [hh ? `${hh}h` : '', mm ? `${mm}m` : '', ss || (!hh && !mm) ? `${ss}s` : ''].join('');
}

const pct = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)}%`);

// isMean reports whether a guard judges the mean of its event's values
// (protobuf JSON writes the enum's name).
export const isMean = (g) => !!g && (g.measure === 'GUARD_MEASURE_MEAN' || g.measure === 2);

const fmtVal = (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? '—' : String(Number(Number(v).toPrecision(3))));

function guardText(g) {
  if (isMean(g)) {
    const limits = [g.maxRatio ? `${g.maxRatio}× control's` : '', g.maxDiff ? `control's + ${g.maxDiff}` : ''].filter(Boolean);
    const lim = limits.join(' and ') || "control's";
    return `mean ${g.event} at most ${lim}, once every variant has ${num(g.minSamples)} values`;
  }
  const limits = [g.maxRatio ? `${g.maxRatio}× control` : '', g.maxDiff ? `control + ${(g.maxDiff * 100).toFixed(2)} points` : '']
    .filter(Boolean).join(' and ');
  return `${g.event} at most ${limits || 'control'}, once every variant has ${num(g.minSamples)} samples`;
}

// chartFrame is the guard chart's SVG, titled by label for screen readers,
// and its legend of the two variants.
function chartFrame(plan, label, axis, marks, width, height) {
  const titleId = `guard-chart-${num(plan.id)}`;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId, tabindex: 0, class: 'guard-chart' },
    s('title', { id: titleId }, label), axis, marks);
  const legend = h('ul', { class: 'legend' },
    ['new', 'control'].map((arm) => h('li', {},
      s('svg', { width: 10, height: 10, 'aria-hidden': 'true' }, s('rect', { width: 10, height: 10, fill: colors[arm] })),
      ` ${arm === 'new' ? `${plan.variant} (new)` : `${plan.control} (control)`}`)));
  return { svg, legend };
}

function draw(el, env, plan, times, signals) {
  clear(el);
  el.hidden = false;
  const steps = plan.steps || [];
  const cur = Number(plan.step || 0);
  const stateClass = { running: 'rolling', completed: 'on', rolled_back: 'danger', paused: 'warn' }[plan.state] || '';
  const title = h('h3', { id: `release-${env}` }, `Release plan ${num(plan.id)} in ${env} `,
    h('span', { class: `badge ${stateClass}`, dataset: { planState: plan.state } }, plan.state.replace('_', ' ')));
  const what = h('p', { class: 'hint' }, `Serves ${plan.variant} (control ${plan.control}) in ${steps.length} step${steps.length === 1 ? '' : 's'}`,
    plan.guard ? `; guard: ${guardText(plan.guard)}.` : '; no guard.');
  const when = h('p', { class: 'muted' }, [
    plan.startedTime ? `Started ${fmtTime(plan.startedTime)}` : plan.startTime ? `Starts ${fmtTime(plan.startTime)}` : '',
    plan.endTime ? `ended ${fmtTime(plan.endTime)}` : ''].filter(Boolean).join(', '));

  const list = h('ol', { class: 'timeline', 'aria-label': `Steps of release plan ${num(plan.id)}`, dataset: { timeline: '' } });
  steps.forEach((st, i) => {
    const n = i + 1;
    const done = n < cur || (n === cur && !activeStates.has(plan.state));
    const isCur = n === cur;
    const at = times.get(n);
    const status = isCur ? (activeStates.has(plan.state) ? `current, ${plan.state}` : plan.state.replace('_', ' ')) : done ? 'done' : 'pending';
    list.append(h('li', {
      class: isCur ? 'current' : done ? 'done' : 'pending', 'aria-current': isCur ? 'step' : null,
      dataset: { step: String(n), stepStatus: status },
    }, h('strong', {}, `Step ${n}: ${st.percent}%`), ` · hold ${fmtHold(st.hold)}`,
    at ? ` · applied ${fmtTime(new Date(at).toISOString())}` : '', ` · ${status}`));
  });

  el.append(title, what, when, list);
  if (plan.reason) {
    el.append(h('p', { class: plan.state === 'rolled_back' ? 'banner warn' : 'hint', dataset: { planReason: '' } }, plan.reason));
  }
  if (plan.guard) el.append(isMean(plan.guard) ? meanChart(plan, times, signals) : guardChart(plan, stepRates(plan, times, signals)));
}

// controls are the pause / resume / cancel buttons of an active plan.
function controls(env, plan, { why, sensitive, after }) {
  const id = num(plan.id);
  const msg = h('div');
  const moves = [];
  if (plan.state === 'running' || plan.state === 'scheduled') {
    moves.push(['pause', 'Pause', 'pauseReleasePlan', `Plan ${id} holds its current step until resumed; nothing changes for the SDKs.`, false]);
  }
  if (plan.state === 'paused') {
    moves.push(['resume', 'Resume', 'resumeReleasePlan', `Plan ${id} re-applies its current step and restarts that step's hold.`, false]);
  }
  moves.push(['cancel', 'Cancel plan', 'cancelReleasePlan', `Plan ${id} ends; the flag's configuration in ${env} stays as it is now.`, true]);
  const buttons = moves.map(([action, label, call, body, danger]) => {
    const b = h('button', { type: 'button', class: danger ? 'danger' : 'secondary', dataset: { action: `release-${action}` } }, label);
    b.addEventListener('click', async () => {
      if ((danger || sensitive) && !(await confirmDialog({ title: `${label.replace(' plan', '')} release plan ${id} in ${env}?`, body, confirm: label, danger }))) return;
      b.disabled = true;
      errorBanner(msg, null);
      try {
        await api[call](env, id);
        toast(`Release plan ${id}: ${action === 'cancel' ? 'cancelled' : action === 'pause' ? 'paused' : 'resumed'}`);
        after();
      } catch (err) {
        b.disabled = false;
        errorBanner(msg, err);
      }
    });
    return b;
  });
  const note = why ? lockNote(why) : null;
  const box = h('div', {}, msg, h('div', { class: 'actions' }, buttons), note);
  lock(box, why, note);
  return box;
}

// guardChart draws the error rates per step as grouped bars (new, control),
// the deciding step outlined, with a table of the same numbers.
export function guardChart(plan, steps, { width = 480, height = 170 } = {}) {
  const pad = { l: 44, r: 8, t: 12, b: 30 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const rates = steps.flatMap((st) => [st.newRate, st.controlRate]).filter((r) => r !== null);
  const max = Math.max(0.01, ...rates) * 1.15;
  const slot = w / Math.max(1, steps.length);
  const bw = Math.min(28, slot / 3);
  const y = (r) => pad.t + hgt - (r / max) * hgt;
  const marks = [];
  steps.forEach((st, i) => {
    const x0 = pad.l + i * slot + slot / 2 - bw;
    [['new', st.newRate, plan.variant], ['control', st.controlRate, st.baseline ? `${plan.control} (baseline)` : plan.control]].forEach(([arm, r, label], j) => {
      if (r === null) return;
      const a = arm === 'new' ? st.new : st.control;
      const top = Math.min(y(r), pad.t + hgt - 2); // a zero rate still shows as a stub
      marks.push(s('rect', { x: (x0 + j * bw).toFixed(1), y: top.toFixed(1), width: (bw - 2).toFixed(1), height: (pad.t + hgt - top).toFixed(1),
        fill: colors[arm], 'data-arm': arm, 'data-step': st.n },
      s('title', {}, `Step ${st.n} (${st.percent}%): ${label} ${pct(r)} (${a.events} of ${a.exposures})`)));
    });
    if (st.decided) {
      marks.push(s('rect', { x: (x0 - 3).toFixed(1), y: pad.t - 2, width: (2 * bw + 4).toFixed(1), height: hgt + 2, fill: 'none',
        stroke: st.decided === 'regressed' ? colors.new : '#147a3d', 'stroke-width': 2, 'stroke-dasharray': '4 2', 'data-decided': st.decided }));
    }
    marks.push(s('text', { x: (pad.l + i * slot + slot / 2).toFixed(1), y: height - 14, 'text-anchor': 'middle', 'font-size': 10, fill: '#5b6475' }, `${st.percent}%`));
  });
  const axis = [
    s('line', { x1: pad.l, y1: pad.t + hgt, x2: width - pad.r, y2: pad.t + hgt, stroke: '#5b6475' }),
    s('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, pct(max)),
    s('text', { x: pad.l - 4, y: pad.t + hgt, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, '0%'),
    s('text', { x: pad.l, y: height - 2, 'font-size': 10, fill: '#5b6475' }, 'step'),
  ];
  const ev = evidence(plan);
  const decision = ev ? `Decision at step ${ev.step}: ${ev.verdict}, new ${pct(ev.new?.rate)} vs ${ev.baseline ? 'baseline' : 'control'} ${pct(ev.control?.rate)}`
    + `${ev.statistic !== undefined ? `, statistic ${Number(ev.statistic).toFixed(2)} against threshold ${Number(ev.threshold).toFixed(2)}` : ''}.` : 'No decision yet.';
  const summary = steps.filter((st) => st.measured)
    .map((st) => `step ${st.n} (${st.percent}%): new ${pct(st.newRate)}, control ${pct(st.controlRate)}`).join('; ');
  const label = `${plan.guard.event} rate of ${plan.variant} (new) and ${plan.control} (control) per step: ${summary || 'no signals yet'}. ${decision}`;
  const { svg, legend } = chartFrame(plan, label, axis, marks, width, height);
  const table = h('table', { class: 'guard-numbers' },
    h('caption', {}, `${plan.guard.event} per step`),
    h('thead', {}, h('tr', {}, ['Step', 'New', 'Control', 'Decision'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, steps.map((st) => h('tr', { dataset: { step: String(st.n) } },
      h('th', { scope: 'row' }, `${st.n} (${st.percent}%)`),
      h('td', {}, st.measured ? `${pct(st.newRate)} (${st.new.events}/${st.new.exposures})` : '—'),
      h('td', {}, st.measured ? `${pct(st.controlRate)} (${st.control.events}/${st.control.exposures})${st.baseline ? ' baseline' : ''}` : '—'),
      h('td', {}, st.decided || '')))));
  return h('figure', { class: 'chart', dataset: { guardChart: '' } },
    svg, legend, h('figcaption', { dataset: { decision: ev?.verdict || '' } }, decision),
    h('p', { class: 'hint' }, 'Per step from the per-minute counts (a minute counts in the step running at its middle); the deciding step shows the guard\'s own window.'),
    h('details', {}, h('summary', {}, 'Numbers'), h('div', { class: 'table-wrap' }, table)));
}

// meanSeries is the mean of a mean guard's event per minute for the new
// variant and the control, from the stored signals (count, sum, mean,
// stddev per minute), oldest first.
export function meanSeries(plan, signals) {
  const out = { new: [], control: [] };
  for (const e of signals?.events || []) {
    if (e.event !== plan.guard?.event) continue;
    const arm = e.variant === plan.variant ? 'new' : e.variant === plan.control ? 'control' : '';
    const n = num(e.count);
    if (!arm || !n) continue;
    const mean = e.mean !== undefined ? Number(e.mean) : Number(e.sum || 0) / n;
    out[arm].push({ t: Date.parse(e.minuteTime), n, mean, sd: Number(e.stddev || 0) });
  }
  for (const a of Object.values(out)) a.sort((x, y) => x.t - y.t);
  return out;
}

// meanChart draws a mean guard's signal over time: one line per variant
// through its per-minute means, the steps' starts as dashed lines, with the
// decision in words and a table of the same numbers.
export function meanChart(plan, times, signals, { width = 480, height = 170 } = {}) {
  const pad = { l: 52, r: 8, t: 12, b: 30 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const series = meanSeries(plan, signals);
  const points = [...series.new, ...series.control];
  const tMin = points.length ? Math.min(...points.map((p) => p.t)) : Date.now();
  const tMax = points.length ? Math.max(...points.map((p) => p.t)) + 60e3 : tMin + 60e3;
  const max = Math.max(1e-9, ...points.map((p) => p.mean)) * 1.15;
  const x = (t) => pad.l + ((t - tMin) / (tMax - tMin)) * w;
  const y = (v) => pad.t + hgt - (v / max) * hgt;
  const hhmm = (t) => new Date(t).toISOString().slice(11, 16);
  const marks = [];
  (plan.steps || []).forEach((st, i) => {
    const at = times.get(i + 1);
    if (at === undefined || at < tMin || at > tMax) return;
    marks.push(s('line', { x1: x(at).toFixed(1), y1: pad.t, x2: x(at).toFixed(1), y2: pad.t + hgt, stroke: '#5b6475', 'stroke-dasharray': '3 3', 'data-step-start': i + 1 }),
      s('text', { x: (x(at) + 2).toFixed(1), y: pad.t + 8, 'font-size': 10, fill: '#5b6475' }, `${st.percent}%`));
  });
  for (const arm of ['control', 'new']) {
    const pts = series[arm];
    const name = arm === 'new' ? `${plan.variant} (new)` : `${plan.control} (control)`;
    if (pts.length > 1) {
      marks.push(s('polyline', { points: pts.map((p) => `${x(p.t + 30e3).toFixed(1)},${y(p.mean).toFixed(1)}`).join(' '),
        fill: 'none', stroke: colors[arm], 'stroke-width': 2, 'data-arm': arm }));
    }
    for (const p of pts) {
      marks.push(s('circle', { cx: x(p.t + 30e3).toFixed(1), cy: y(p.mean).toFixed(1), r: 3, fill: colors[arm], 'data-arm': arm },
        s('title', {}, `${hhmm(p.t)}: ${name} mean ${fmtVal(p.mean)} (n ${p.n}, stddev ${fmtVal(p.sd)})`)));
    }
  }
  const axis = [
    s('line', { x1: pad.l, y1: pad.t + hgt, x2: width - pad.r, y2: pad.t + hgt, stroke: '#5b6475' }),
    s('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, fmtVal(max)),
    s('text', { x: pad.l - 4, y: pad.t + hgt, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, '0'),
    s('text', { x: pad.l, y: height - 14, 'font-size': 10, fill: '#5b6475' }, hhmm(tMin)),
    s('text', { x: width - pad.r, y: height - 14, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, hhmm(tMax)),
    s('text', { x: pad.l, y: height - 2, 'font-size': 10, fill: '#5b6475' }, 'time (UTC, per minute)'),
  ];
  const ev = evidence(plan);
  const armText = (a) => `mean ${fmtVal(a?.mean ?? a?.rate)} (n ${num(a?.samples)}, stddev ${fmtVal(a?.stddev ?? 0)})`;
  const decision = ev ? `Decision at step ${ev.step}: ${ev.verdict}, new ${armText(ev.new)} vs ${ev.baseline ? 'baseline' : 'control'} ${armText(ev.control)}`
    + `${ev.limit !== undefined ? `, tolerated up to ${fmtVal(ev.limit)}` : ''}`
    + `${ev.statistic !== undefined ? `, statistic ${Number(ev.statistic).toFixed(2)} against threshold ${Number(ev.threshold).toFixed(2)}` : ''}.` : 'No decision yet.';
  const last = (a) => (a.length ? fmtVal(a[a.length - 1].mean) : '—');
  const summary = points.length ? `latest minute: new ${last(series.new)}, control ${last(series.control)}` : 'no values yet';
  const label = `Mean ${plan.guard.event} of ${plan.variant} (new) and ${plan.control} (control) per minute: ${summary}. ${decision}`;
  const { svg, legend } = chartFrame(plan, label, axis, marks, width, height);
  const minutes = [...new Set(points.map((p) => p.t))].sort((a, b) => a - b);
  const at = (arm, t) => series[arm].find((p) => p.t === t);
  const cell = (p) => (p ? `${fmtVal(p.mean)} (n ${p.n}, stddev ${fmtVal(p.sd)})` : '—');
  const table = h('table', { class: 'guard-numbers' },
    h('caption', {}, `Mean ${plan.guard.event} per minute`),
    h('thead', {}, h('tr', {}, ['Minute (UTC)', 'New', 'Control'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, minutes.map((t) => h('tr', { dataset: { minute: hhmm(t) } },
      h('th', { scope: 'row' }, hhmm(t)), h('td', {}, cell(at('new', t))), h('td', {}, cell(at('control', t)))))));
  return h('figure', { class: 'chart', dataset: { guardChart: '', measure: 'mean' } },
    svg, legend, h('figcaption', { dataset: { decision: ev?.verdict || '' } }, decision),
    h('p', { class: 'hint' }, 'Each variant\'s mean per minute from the stored signals; the decision is the guard\'s own window.'),
    h('details', {}, h('summary', {}, 'Numbers'), h('div', { class: 'table-wrap' }, table)));
}
