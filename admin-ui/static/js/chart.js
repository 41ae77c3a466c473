// chart.js draws the evaluations of a flag per variant, per hour over a day
// or per day over a week, as an SVG stacked bar chart, with the UI's own code (no library). SVG elements are
// made with createElementNS and text nodes only, like dom.js's h().

const NS = 'http://www.w3.org/2000/svg';
const palette = ['#1f6feb', '#147a3d', '#b54708', '#7a2e9e', '#b42318', '#0e7490', '#5b6475'];

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

// hourBuckets are the 24 hours ending with the hour of now, labelled in UTC.
export function hourBuckets(now = Date.now()) {
  const end = Math.floor(now / 3600e3) * 3600e3;
  return Array.from({ length: 24 }, (_, i) => {
    const start = end - (23 - i) * 3600e3;
    return { start, end: start + 3600e3, label: `${new Date(start).toISOString().slice(11, 16)} UTC` };
  });
}

// dayBuckets are the 7 calendar days (the browser's) ending with today.
export function dayBuckets(now = Date.now()) {
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  return Array.from({ length: 7 }, (_, i) => {
    const d = new Date(today);
    d.setDate(d.getDate() - (6 - i));
    const next = new Date(d);
    next.setDate(next.getDate() + 1);
    return { start: d.getTime(), end: next.getTime(), label: d.toLocaleDateString('en-US', { weekday: 'short', month: 'short', day: 'numeric' }) };
  });
}

// weekHours is how many hours of hourly counts dayBuckets needs (at most
// a week, the server's limit).
export function weekHours(now = Date.now()) {
  return Math.min(168, Math.ceil((now - dayBuckets(now)[0].start) / 3600e3));
}

// bucketSeries sums HourlyCount records into buckets: {buckets, variants,
// counts: Map(variant → number per bucket), total}. Counts outside every
// bucket are left out.
export function bucketSeries(hourly, buckets) {
  const counts = new Map();
  let total = 0;
  for (const c of hourly || []) {
    const t = new Date(c.hourTime).getTime();
    const i = buckets.findIndex((b) => t >= b.start && t < b.end);
    if (i < 0) continue;
    const v = c.variant || '(none)';
    if (!counts.has(v)) counts.set(v, new Array(buckets.length).fill(0));
    const n = Number(c.count || 0);
    counts.get(v)[i] += n;
    total += n;
  }
  return { buckets, variants: [...counts.keys()].sort(), counts, total };
}

// hourlySeries is bucketSeries over the last day's hours.
export function hourlySeries(hourly, now = Date.now()) {
  return bucketSeries(hourly, hourBuckets(now));
}

// spans name what a chart covers: per hour over a day, per day over a week.
const spans = {
  day: { per: 'hour', over: 'the last day', from: '24 h ago', to: 'now' },
  week: { per: 'day', over: 'the last 7 days', from: '7 days ago', to: 'today' },
};

// usageChart is the SVG for a series over span ('day' or 'week'), with a
// text summary as its label.
export function usageChart(series, { width = 480, height = 140, span = 'day' } = {}) {
  const { buckets, variants, counts, total } = series;
  const sp = spans[span];
  const pad = { l: 36, r: 6, t: 8, b: 20 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const sums = buckets.map((_, i) => variants.reduce((a, v) => a + counts.get(v)[i], 0));
  const max = Math.max(1, ...sums);
  const bw = w / buckets.length;
  const bars = [];
  buckets.forEach((bucket, i) => {
    let y = pad.t + hgt;
    variants.forEach((v, j) => {
      const n = counts.get(v)[i];
      if (!n) return;
      const bh = (n / max) * hgt;
      y -= bh;
      bars.push(s('rect', { x: (pad.l + i * bw + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: bh.toFixed(1), fill: palette[j % palette.length] },
        s('title', {}, `${bucket.label}: ${n} × ${v}`)));
    });
  });
  const axis = [
    s('line', { x1: pad.l, y1: pad.t + hgt, x2: width - pad.r, y2: pad.t + hgt, stroke: '#5b6475' }),
    s('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, String(max)),
    s('text', { x: pad.l - 4, y: pad.t + hgt, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, '0'),
    s('text', { x: pad.l, y: height - 4, 'font-size': 10, fill: '#5b6475' }, sp.from),
    s('text', { x: width - pad.r, y: height - 4, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, sp.to),
  ];
  const perVariant = variants.map((v) => `${v} ${counts.get(v).reduce((a, b) => a + b, 0)}`).join(', ');
  const label = total ? `Evaluations per ${sp.per} over ${sp.over}: ${total} in all (${perVariant}).` : `No evaluations in ${sp.over}.`;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'usage-chart' },
    s('title', {}, label), axis, bars);
  const legend = document.createElement('ul');
  legend.className = 'legend';
  variants.forEach((v, j) => {
    const li = document.createElement('li');
    li.append(s('svg', { width: 10, height: 10, 'aria-hidden': 'true' }, s('rect', { width: 10, height: 10, fill: palette[j % palette.length] })), ` ${v}`);
    legend.append(li);
  });
  const fig = document.createElement('figure');
  fig.className = 'chart';
  fig.dataset.usageChart = span;
  const cap = document.createElement('figcaption');
  cap.textContent = label;
  fig.append(svg, legend, cap);
  return fig;
}
