// diff.js compares two JSON values (an audit entry's before and after) and
// lists what changed as readable paths: rules[0].conditions[1].values.

// flatten maps every leaf of v to its path. Arrays of scalars stay one leaf
// so a changed tag list reads as one line.
export function flatten(v, path = '', out = new Map()) {
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) {
    out.set(path || '(value)', v);
  } else if (Array.isArray(v)) {
    if (v.length === 0) out.set(path, []);
    v.forEach((x, i) => flatten(x, `${path}[${i}]`, out));
  } else if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0 && path) out.set(path, {});
    for (const k of keys) flatten(v[k], path ? `${path}.${k}` : k, out);
  } else if (v !== undefined) {
    out.set(path || '(value)', v);
  }
  return out;
}

// ignored fields change on every write and say nothing to a reader.
const ignored = /(^|\.)(revision|updateTime|update_time|updatedAt|UpdatedAt|Revision)$/;

// diff returns [{path, before, after, kind}] with kind added, removed or changed.
export function diff(before, after) {
  const a = flatten(before ?? {});
  const b = flatten(after ?? {});
  const rows = [];
  for (const [path, x] of a) {
    if (ignored.test(path)) continue;
    if (!b.has(path)) rows.push({ path, before: x, after: undefined, kind: 'removed' });
    else if (JSON.stringify(x) !== JSON.stringify(b.get(path))) rows.push({ path, before: x, after: b.get(path), kind: 'changed' });
  }
  for (const [path, y] of b) {
    if (ignored.test(path)) continue;
    if (!a.has(path)) rows.push({ path, before: undefined, after: y, kind: 'added' });
  }
  return rows;
}

// show renders a leaf for the diff table.
export function show(v) {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
