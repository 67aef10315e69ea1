// Turns chart points into uPlot's column arrays: stacked rates by event type.

import type { HistorySeries } from '../types';
import type { ChartPoint } from './state';

export const OTHER = 'other';

export interface StackedData {
  /** series keys, bottom layer first (by name; "other" last) */
  keys: string[];
  /** x: epoch seconds */
  t: number[];
  /** per key, the raw rates (for the legend) */
  raw: number[][];
  /** per key, the cumulative sum of this and all lower layers (what is drawn) */
  stacked: number[][];
}

/**
 * Picks the `maxSeries` busiest event types over the visible points (the rest
 * are summed into "other") and stacks them in name order.
 */
export function stackPoints(points: readonly ChartPoint[], maxSeries = 8): StackedData {
  const totals = new Map<string, number>();
  for (const p of points) {
    for (const [k, v] of Object.entries(p.byType)) totals.set(k, (totals.get(k) ?? 0) + v);
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  const overflow = ranked.length > maxSeries;
  // Layers are the busiest types, stacked in name order: a stable order means
  // the chart is only rebuilt when the set of types changes, not every second.
  const keys = (overflow ? ranked.slice(0, maxSeries - 1) : ranked).sort();
  const index = new Map(keys.map((k, i) => [k, i]));
  const allKeys = overflow ? [...keys, OTHER] : keys;
  const n = points.length;
  const raw = allKeys.map(() => new Array<number>(n).fill(0));
  const t = new Array<number>(n);
  points.forEach((p, j) => {
    t[j] = p.t;
    for (const [k, v] of Object.entries(p.byType)) {
      const i = index.get(k) ?? (overflow ? allKeys.length - 1 : -1);
      if (i >= 0) (raw[i] as number[])[j] = ((raw[i] as number[])[j] ?? 0) + v;
    }
  });
  const stacked: number[][] = [];
  let below = new Array<number>(n).fill(0);
  for (const r of raw) {
    const s = r.map((v, j) => v + (below[j] ?? 0));
    stacked.push(s);
    below = s;
  }
  return { keys: allKeys, t, raw, stacked };
}

/** Dark-theme palette: [line, opaque fill on the dark background]. */
export const PALETTE: readonly [string, string][] = [
  ['#4ea1ff', '#1d3552'],
  ['#3ecf8e', '#18402f'],
  ['#f5a524', '#4a3514'],
  ['#c17bff', '#3a2650'],
  ['#ff6b81', '#4b2029'],
  ['#2dd4bf', '#133f3b'],
  ['#e5e07a', '#403f20'],
  ['#ff8c42', '#4a2a14'],
  ['#7aa2f7', '#232f4d'],
  ['#a3e635', '#2c3d12'],
  ['#f472b6', '#4a2238'],
  ['#94e2d5', '#24403c'],
  ['#9aa4b2', '#2b3038'],
];

export function colorFor(i: number): [string, string] {
  return PALETTE[i % PALETTE.length] as [string, string];
}

/** Gives each key a palette slot on first sight and keeps it, so colours don't swap when ranks change. */
export class ColorAssigner {
  private slots = new Map<string, number>();
  private next = 0;

  color(key: string): [string, string] {
    if (key === OTHER) return ['#7d8590', '#262b33'];
    let i = this.slots.get(key);
    if (i === undefined) {
      i = this.next++ % (PALETTE.length - 1); // the last slot is grey, kept for "other"-like keys
      this.slots.set(key, i);
    }
    return colorFor(i);
  }
}

export interface AlignedHistory {
  keys: string[];
  /** epoch seconds, ascending */
  t: number[];
  /** per key, a value per t (null where the series has no point) */
  values: (number | null)[][];
}

/**
 * Aligns /api/history series on the union of their timestamps (uPlot wants
 * one x array). With `intervalMs` and `stopMs`, a bucket that ends after stop
 * (still filling, so it would show as a dip) is left out.
 */
export function alignHistory(
  series: readonly HistorySeries[] | null | undefined,
  intervalMs = NaN,
  stopMs = NaN,
): AlignedHistory {
  const list = series ?? [];
  const cut = Number.isFinite(intervalMs) && Number.isFinite(stopMs) ? stopMs - intervalMs : Infinity;
  const ts = new Set<number>();
  const maps = list.map((s) => {
    const m = new Map<number, number>();
    for (const p of s.points ?? []) {
      const ms = Date.parse(p.t);
      if (Number.isNaN(ms) || typeof p.v !== 'number' || ms > cut) continue;
      const t = ms / 1000;
      ts.add(t);
      m.set(t, (m.get(t) ?? 0) + p.v);
    }
    return m;
  });
  const t = [...ts].sort((a, b) => a - b);
  return {
    keys: list.map((s) => s.key || 'total'),
    t,
    values: maps.map((m) => t.map((x) => m.get(x) ?? null)),
  };
}

const SEVERITY_COLORS: Record<string, [string, string]> = {
  low: ['#3fb950', '#173a22'],
  medium: ['#d29922', '#3d3015'],
  high: ['#f0883e', '#45291a'],
  critical: ['#f85149', '#4a1d1c'],
};

const shared = new ColorAssigner();

/** One colour per key across all charts; severities get their fixed colours. */
export function colorForKey(key: string): [string, string] {
  return SEVERITY_COLORS[key] ?? shared.color(key);
}
