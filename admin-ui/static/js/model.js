// model.js reads the API's resources for display: the rollout of a
// configuration at a glance, a flag's status, revisions as numbers.

// num turns a protobuf JSON int64 (a string) into a number; absent is 0.
export function num(v) {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

// variantKeys lists a flag's variant keys in order (boolean flags default to on/off).
export function variantKeys(flag) {
  const keys = (flag.variants || []).map((v) => v.key);
  if (keys.length === 0 && flag.type === 'boolean') return ['on', 'off'];
  return keys;
}

// splitPercent is the share (0–100) the split gives its first variant.
export function splitPercent(split) {
  const weights = split?.weights || [];
  const total = weights.reduce((s, w) => s + num(w.weight), 0);
  if (!total) return 0;
  return Math.round((num(weights[0].weight) * 1000) / total) / 10;
}

// serveShare reads a configuration's default serve as a percentage rollout,
// whether or not the flag is enabled: {percent (number or null), variant,
// rest, variants (how many the split names), bucketBy}. A split of more
// than two variants, or bucketed by another attribute, is not a
// two-variant rollout: the slider cannot show it without loss.
export function serveShare(flag, config) {
  const serve = config?.defaultServe || {};
  const out = { percent: null, variant: '', rest: '', variants: 0, bucketBy: '' };
  if (serve.split) {
    const weights = serve.split.weights || [];
    out.percent = splitPercent(serve.split);
    out.variant = weights[0]?.variant || '';
    out.rest = weights[1]?.variant || '';
    out.variants = weights.length;
    out.bucketBy = serve.split.bucketBy || '';
  } else if (serve.variant !== undefined) {
    out.variant = serve.variant;
    out.variants = 1;
    if (flag.type === 'boolean' && (serve.variant === 'on' || serve.variant === 'off')) {
      out.percent = serve.variant === 'on' ? 100 : 0;
      out.variant = 'on';
    }
  }
  return out;
}

// rollout describes what a configuration serves at a glance:
// {enabled, percent (number or null), variant, rules, label, rolling}.
export function rollout(flag, config) {
  const c = config || {};
  const rules = (c.rules || []).length;
  const serve = c.defaultServe || {};
  const out = { enabled: !!c.enabled, percent: null, variant: '', rules, rolling: false, label: 'Off' };
  if (!out.enabled) return out;
  if (serve.split) {
    out.percent = splitPercent(serve.split);
    out.variant = serve.split.weights?.[0]?.variant || '';
    out.rolling = out.percent > 0 && out.percent < 100;
  } else if (serve.variant !== undefined) {
    out.variant = serve.variant;
    if (flag.type === 'boolean' && (serve.variant === 'on' || serve.variant === 'off')) {
      out.percent = serve.variant === 'on' ? 100 : 0;
    }
  }
  const ruleSplit = (c.rules || []).some((r) => r.serve?.split);
  out.rolling = out.rolling || ruleSplit;
  if (out.percent !== null) {
    out.label = `On · ${out.percent}%`;
    if (out.variant && flag.type !== 'boolean') out.label += ` ${out.variant}`;
  } else {
    out.label = out.variant ? `On · ${out.variant}` : 'On';
  }
  return out;
}

// matchesStatus tells whether a flag with its configs matches a status
// filter in an environment ('' = any environment). stale maps flag key →
// Map(environment → reason).
export function matchesStatus(item, status, env, stale) {
  const flag = item.flag || {};
  if (status === 'archived') return !!flag.archived;
  if (status === 'stale') return stale.has(flag.key) && (!env || stale.get(flag.key).has(env));
  if (flag.archived) return false;
  const configs = (item.configs || []).filter((c) => !env || c.environment === env);
  const states = configs.map((c) => rollout(flag, c));
  switch (status) {
    case 'on': return states.some((s) => s.enabled);
    case 'off': return states.length > 0 && states.every((s) => !s.enabled);
    case 'rolling': return states.some((s) => s.enabled && s.rolling);
    default: return true;
  }
}

// matchesSearch is a case-insensitive match on key, name and tags.
export function matchesSearch(flag, text) {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  return [flag.key, flag.name, ...(flag.tags || [])]
    .some((s) => String(s || '').toLowerCase().includes(q));
}
