/**
 * A figure of scatter panels as one self-contained SVG (no fonts or scripts to load): each panel with
 * its title and subtitle, ticks, grid, axis labels, and linear or logarithmic axes. Points can be
 * flagged (drawn as red crosses, e.g. bad architectures placed at the worst value).
 */

export interface ScatterPoint {
  x: number;
  y: number;
  flagged?: boolean;
}

export interface ScatterPanel {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  points: readonly ScatterPoint[];
  /** 'auto' (default): logarithmic when every x is positive and they span more than a factor 20. */
  xScale?: 'linear' | 'log' | 'auto';
  /**
   * 'all' (default): the y axis spans every point. 'unflagged': it spans the plain points only, and a
   * flagged point outside that range is drawn on the edge of the frame (so a few outliers do not
   * squash the rest).
   */
  yRange?: 'all' | 'unflagged';
}

export interface ScatterFigure {
  title: string;
  subtitle?: string;
  panels: readonly ScatterPanel[];
  /** Panels per row (default 4). */
  columns?: number;
  /** Legend entries for plain and flagged points. */
  legend?: { point: string; flagged?: string };
}

const PANEL_W = 340, PANEL_H = 280;
const M = { left: 58, right: 16, top: 50, bottom: 46 };
const HEADER = 64, FOOTER = 28, PAD = 16;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const r1 = (v: number) => Math.round(v * 10) / 10;

/** A tick label: plain for ordinary numbers, k / M suffixes for large ones, exponent for tiny ones. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const trim = (x: number) => String(Number(x.toPrecision(6)));
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a < 1e-3) return v.toExponential(0);
  return trim(v);
}

/** About `count` (at most 2 x `count`) round ticks (1, 2, 5 x 10^k steps) inside [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** Ticks of a log axis in [lo, hi] (both > 0): the powers of ten, with 2 and 5 x them over a short span. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = a; e <= b; e++) for (const m of mult) {
    const t = Number((m * 10 ** e).toPrecision(12));
    if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push(t);
  }
  return out.length >= 2 ? out : linearTicks(lo, hi);
}

interface Axis {
  map: (v: number) => number;
  ticks: number[];
  log: boolean;
}

function axis(values: number[], from: number, to: number, scale: 'linear' | 'log' | 'auto'): Axis {
  let lo = Math.min(...values), hi = Math.max(...values);
  const log = scale === 'log' || (scale === 'auto' && lo > 0 && hi / lo > 20);
  if (log) {
    const l = Math.log10(lo), h = Math.log10(hi), pad = Math.max((h - l) * 0.04, 0.05);
    const L = l - pad, H = h + pad;
    return { log, map: (v) => from + ((Math.log10(v) - L) / (H - L)) * (to - from), ticks: logTicks(10 ** L, 10 ** H) };
  }
  if (hi === lo) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  const pad = (hi - lo) * 0.04;
  const L = lo - pad, H = hi + pad;
  return { log, map: (v) => from + ((v - L) / (H - L)) * (to - from), ticks: linearTicks(L, H) };
}

function panelSvg(p: ScatterPanel, ox: number, oy: number): string {
  const x0 = ox + M.left, x1 = ox + PANEL_W - M.right, y0 = oy + PANEL_H - M.bottom, y1 = oy + M.top;
  const pts = p.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
  const out: string[] = [];
  out.push(`<text x="${ox + M.left}" y="${oy + 20}" class="t">${esc(p.title)}</text>`);
  if (p.subtitle) out.push(`<text x="${ox + M.left}" y="${oy + 37}" class="s">${esc(p.subtitle)}</text>`);
  out.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" class="f"/>`);
  if (!pts.length) {
    out.push(`<text x="${(x0 + x1) / 2}" y="${(y0 + y1) / 2}" class="s" text-anchor="middle">no data</text>`);
    return out.join('');
  }
  const X = axis(pts.map((q) => q.x), x0, x1, p.xScale ?? 'auto');
  const plainY = pts.filter((q) => !q.flagged).map((q) => q.y);
  const Y = axis(p.yRange === 'unflagged' && plainY.length ? plainY : pts.map((q) => q.y), y0, y1, 'linear');
  const clampY = (v: number) => Math.min(y0, Math.max(y1, Y.map(v)));
  const grid: string[] = [], labels: string[] = [];
  for (const t of X.ticks) {
    const x = r1(X.map(t));
    if (x < x0 - 0.5 || x > x1 + 0.5) continue;
    grid.push(`M${x} ${y1}V${y0}`);
    labels.push(`<text x="${x}" y="${y0 + 15}" text-anchor="middle">${esc(formatTick(t))}</text>`);
  }
  for (const t of Y.ticks) {
    const y = r1(Y.map(t));
    if (y > y0 + 0.5 || y < y1 - 0.5) continue;
    grid.push(`M${x0} ${y}H${x1}`);
    labels.push(`<text x="${x0 - 5}" y="${y + 3.5}" text-anchor="end">${esc(formatTick(t))}</text>`);
  }
  out.push(`<path d="${grid.join('')}" class="g"/>`, `<g class="l">${labels.join('')}</g>`);
  const xl = `${p.xLabel}${X.log ? ' (log scale)' : ''}`;
  out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 34}" text-anchor="middle" class="a">${esc(xl)}</text>`);
  out.push(`<text transform="translate(${ox + 16} ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" class="a">${esc(p.yLabel)}</text>`);
  const plain = pts.filter((q) => !q.flagged).map((q) => `<circle cx="${r1(X.map(q.x))}" cy="${r1(Y.map(q.y))}" r="2.6"/>`);
  const flagged = pts.filter((q) => q.flagged).map((q) => `M${r1(X.map(q.x) - 3)} ${r1(clampY(q.y) - 3)}l6 6m0-6l-6 6`);
  out.push(`<g class="p">${plain.join('')}</g>`);
  if (flagged.length) out.push(`<path d="${flagged.join('')}" class="x"/>`);
  return out.join('\n');
}

export function scatterSvg(fig: ScatterFigure): string {
  const cols = Math.max(1, Math.min(fig.columns ?? 4, fig.panels.length));
  const rows = Math.ceil(fig.panels.length / cols);
  const W = PAD * 2 + cols * PANEL_W, H = HEADER + rows * PANEL_H + FOOTER;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    "<style>text{fill:#222;font-size:11px;font-family:Helvetica,Arial,'DejaVu Sans','Liberation Sans',sans-serif}" +
      '.h{font-size:18px;font-weight:bold}.t{font-size:13.5px;font-weight:bold}.s{font-size:11.5px;fill:#555}' +
      '.a{font-size:11.5px;fill:#333}.l text{fill:#555;font-size:10.5px}.f{fill:#fff;stroke:#888}.g{stroke:#e4e4e4;fill:none}' +
      '.p circle{fill:#1f6fb4;fill-opacity:.5}.x{stroke:#d62728;stroke-width:1.4;fill:none}</style>',
    `<rect width="${W}" height="${H}" fill="#fafafa"/>`,
    `<text x="${PAD}" y="28" class="h">${esc(fig.title)}</text>`,
  ];
  if (fig.subtitle) parts.push(`<text x="${PAD}" y="48" class="s">${esc(fig.subtitle)}</text>`);
  fig.panels.forEach((p, i) => parts.push(panelSvg(p, PAD + (i % cols) * PANEL_W, HEADER + Math.floor(i / cols) * PANEL_H)));
  if (fig.legend) {
    const y = H - 10;
    parts.push(`<circle cx="${PAD + 6}" cy="${y - 4}" r="3" fill="#1f6fb4" fill-opacity=".6"/><text x="${PAD + 14}" y="${y}">${esc(fig.legend.point)}</text>`);
    const fx = PAD + 40 + Math.round(fig.legend.point.length * 6);
    if (fig.legend.flagged)
      parts.push(`<path d="M${fx} ${y - 7}l6 6m0-6l-6 6" class="x"/><text x="${fx + 12}" y="${y}">${esc(fig.legend.flagged)}</text>`);
  }
  parts.push('</svg>', '');
  return parts.join('\n');
}
