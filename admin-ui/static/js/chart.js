// chart.js draws the evaluations of a flag per variant per hour as an SVG
// stacked bar chart, with the UI's own code (no library). SVG elements are
// made with createElementNS and text nodes only, like dom.js's h().

const NS = 'http://www.w3.org/2000/svg';
const palette = ['#1f6feb', '#147a3d', '#b54708', '#7a2e9e', '#b42318', '#0e7490', '#5b6475'];

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

// hourlySeries turns HourlyCount records into 24 hourly buckets ending at
// the hour of now: {hours: [Date], variants: [key], counts: Map(variant →
// number[24]), total}.
export function hourlySeries(hourly, now = Date.now()) {
  const end = Math.floor(now / 3600e3) * 3600e3;
  const hours = Array.from({ length: 24 }, (_, i) => new Date(end - (23 - i) * 3600e3));
  const counts = new Map();
  let total = 0;
  for (const c of hourly || []) {
    const i = 23 - Math.round((end - new Date(c.hourTime).getTime()) / 3600e3);
    if (i < 0 || i > 23) continue;
    const v = c.variant || '(none)';
    if (!counts.has(v)) counts.set(v, new Array(24).fill(0));
    const n = Number(c.count || 0);
    counts.get(v)[i] += n;
    total += n;
  }
  return { hours, variants: [...counts.keys()].sort(), counts, total };
}

// usageChart is the SVG for a series, with a text summary as its label.
export function usageChart(series, { width = 480, height = 140 } = {}) {
  const { hours, variants, counts, total } = series;
  const pad = { l: 36, r: 6, t: 8, b: 20 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const sums = hours.map((_, i) => variants.reduce((a, v) => a + counts.get(v)[i], 0));
  const max = Math.max(1, ...sums);
  const bw = w / 24;
  const bars = [];
  hours.forEach((hour, i) => {
    let y = pad.t + hgt;
    variants.forEach((v, j) => {
      const n = counts.get(v)[i];
      if (!n) return;
      const bh = (n / max) * hgt;
      y -= bh;
      bars.push(s('rect', { x: (pad.l + i * bw + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: bh.toFixed(1), fill: palette[j % palette.length] },
        s('title', {}, `${hour.toISOString().slice(11, 16)} UTC: ${n} × ${v}`)));
    });
  });
  const axis = [
    s('line', { x1: pad.l, y1: pad.t + hgt, x2: width - pad.r, y2: pad.t + hgt, stroke: '#5b6475' }),
    s('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, String(max)),
    s('text', { x: pad.l - 4, y: pad.t + hgt, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, '0'),
    s('text', { x: pad.l, y: height - 4, 'font-size': 10, fill: '#5b6475' }, '24 h ago'),
    s('text', { x: width - pad.r, y: height - 4, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6475' }, 'now'),
  ];
  const perVariant = variants.map((v) => `${v} ${counts.get(v).reduce((a, b) => a + b, 0)}`).join(', ');
  const label = total ? `Evaluations per hour over the last day: ${total} in all (${perVariant}).` : 'No evaluations in the last day.';
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
  fig.dataset.usageChart = '';
  const cap = document.createElement('figcaption');
  cap.textContent = label;
  fig.append(svg, legend, cap);
  return fig;
}
