// Shared helpers for hitstream's pages: no framework, no CDN, nothing to build.
// Every score a prediction can hold: the four models, and the ensemble when the version has one.
export const MODELS = ['rf', 'xgb', 'mlp', 'tabnet', 'ensemble'];
export const LABEL = {
  rf: 'Random Forest',
  xgb: 'XGBoost',
  mlp: 'MLP',
  tabnet: 'TabNet',
  ensemble: 'Ensemble',
};
export const COLOR = {
  rf: '#4C78A8',
  xgb: '#F58518',
  mlp: '#54A24B',
  tabnet: '#B279A2',
  ensemble: '#E45756',
};
/** The scores `scores` (an event's, a prediction's) holds, in MODELS order. */
export const scoresIn = (scores) => MODELS.filter((m) => scores && m in scores);

export async function getJson(url, init) {
  const r = await fetch(url, init);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || `${url}: HTTP ${r.status}`);
  return body;
}

const esc = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
export { esc };

/** Horizontal bar chart as an SVG string. bars: [{ label, value, color }] */
export function barsSvg(bars, { max, width = 420, unit = '', digits = 1 } = {}) {
  const rowH = 22,
    left = 130;
  const top = max ?? Math.max(1e-9, ...bars.map((b) => b.value));
  const rows = bars.map((b, i) => {
    const w = Math.max(0, ((width - left - 60) * b.value) / top);
    const y = i * rowH;
    return (
      `<text x="${left - 6}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.color}" data-testid="bar-${esc(b.label)}"/>` +
      `<text x="${(left + w + 5).toFixed(1)}" y="${y + 15}">${b.value.toFixed(digits)}${unit}</text>`
    );
  });
  return `<svg width="${width}" height="${bars.length * rowH + 4}" font-size="12" font-family="sans-serif">${rows.join('')}</svg>`;
}

/** Vertical histogram of values in [0, 100] with `bins` bins. */
export function histogramSvg(values, color, { bins = 10, width = 200, height = 80 } = {}) {
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v / 100) * bins)))]++;
  const max = Math.max(1, ...counts);
  const bw = width / bins;
  const rects = counts.map((c, i) => {
    const h = (height - 14) * (c / max);
    return `<rect x="${(i * bw + 1).toFixed(1)}" y="${(height - 14 - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`;
  });
  return `<svg width="${width}" height="${height}" font-size="10" font-family="sans-serif">${rects.join('')}<text x="0" y="${height - 2}">0</text><text x="${width - 18}" y="${height - 2}">100</text></svg>`;
}

export function nav(active) {
  const link = (href, text) => `<a href="${href}" class="${active === href ? 'active' : ''}">${text}</a>`;
  const bar = document.querySelector('nav');
  bar.innerHTML = `<strong>hitstream</strong> ${link('live.html', 'Live')} ${link('whatif.html', 'What-if')} ${link('models.html', 'Models')} ${link('dashboards.html', 'Dashboards')} ${link('alerts.html', 'Alerts')} <a href="/docs">API</a>`;
  const banner = document.createElement('div');
  banner.id = 'alert-banner';
  banner.hidden = true;
  bar.after(banner);
  void showAlerts(banner);
  setInterval(() => void showAlerts(banner), 30_000);
}

/** The banner under the menu on every page: the alerts firing now, from GET /alerts. */
async function showAlerts(banner) {
  // No banner when the alerts cannot be read (an older API, ClickHouse down): /health says why.
  const body = await getJson('/alerts?since=1h&limit=1').catch(() => null);
  // `info` is news, not a problem (the autopilot's run outcomes): the Alerts page lists it.
  const active = (body?.active ?? []).filter((a) => a.severity !== 'info');
  banner.hidden = active.length === 0;
  if (!active.length) return;
  const critical = active.some((a) => a.severity === 'critical');
  banner.className = critical ? 'critical' : 'warning';
  const first = active[0];
  banner.innerHTML =
    `<strong>${active.length} alert${active.length === 1 ? '' : 's'} firing</strong> · ` +
    `${esc(first.alertname)}: ${esc(first.summary)}` +
    (active.length > 1 ? ` (and ${active.length - 1} more)` : '') +
    ` · <a href="alerts.html">see all and how to silence</a>`;
}

/**
 * A SHAP waterfall as an SVG string: from the score's base value, each of the `top` largest
 * contributions (then the rest together) moves the running total, ending at the model's output.
 * e: one score of POST /explain's answer; kinds: its feature_kinds (context columns are marked).
 */
export function waterfallSvg(e, kinds, { top = 8, width = 420, testid = '' } = {}) {
  const ranked = Object.entries(e.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const steps = ranked.slice(0, top).map(([f, v]) => ({
    label: kinds?.[f] && kinds[f] !== 'audio' ? `${f} (${kinds[f]})` : f,
    feature: f,
    v,
  }));
  if (ranked.length > top)
    steps.push({
      label: `${ranked.length - top} other features`,
      feature: 'other',
      v: ranked.slice(top).reduce((s, [, v]) => s + v, 0),
    });
  let at = e.base;
  const spans = steps.map((s) => {
    const from = at;
    at += s.v;
    return { ...s, from, to: at };
  });
  const ends = [e.base, e.output, ...spans.flatMap((s) => [s.from, s.to])];
  const lo = Math.min(...ends);
  const hi = Math.max(...ends);
  const pad = (hi - lo) * 0.05 || 1;
  const left = 190;
  const plot = width - left - 50;
  const x = (v) => left + (plot * (v - lo + pad)) / (hi - lo + 2 * pad);
  const rowH = 20;
  const line = (y, v, text) =>
    `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y}" y2="${y + rowH}" stroke="#888" stroke-dasharray="2,2"/>` +
    `<text x="${left - 6}" y="${y + 14}" text-anchor="end" font-weight="bold">${text}</text>` +
    `<text x="${(x(v) + 4).toFixed(1)}" y="${y + 14}">${v.toFixed(2)}</text>`;
  const rows = spans.map((s, i) => {
    const y = (i + 1) * rowH;
    const a = Math.min(x(s.from), x(s.to));
    const w = Math.max(1, Math.abs(x(s.to) - x(s.from)));
    const sign = s.v >= 0 ? '+' : '−';
    return (
      `<text x="${left - 6}" y="${y + 14}" text-anchor="end">${esc(s.label)}</text>` +
      `<rect x="${a.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${s.v >= 0 ? '#d62728' : '#1f77b4'}" data-testid="wf-${esc(testid)}-${esc(s.feature)}" data-value="${s.v}"/>` +
      `<text x="${(Math.max(x(s.from), x(s.to)) + 4).toFixed(1)}" y="${y + 14}">${sign}${Math.abs(s.v).toFixed(2)}</text>`
    );
  });
  const height = (spans.length + 2) * rowH + 4;
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-size="12" font-family="sans-serif">${line(0, e.base, 'base')}${rows.join('')}${line((spans.length + 1) * rowH, e.output, e.clipped ? `output (served ${e.score})` : 'score')}</svg>`;
}
