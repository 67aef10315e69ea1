// The view's state in the page URL, so that a reload or a link shows the
// same thing: the time range (or live/pause), the filter, the selected user
// and the selected alert. Pure functions; useUrlState keeps them in sync.

import { filterFor, type Filter } from './filter';

/** Relative ranges every panel offers; the first is the default. */
export const RANGES = ['5m', '15m', '1h', '24h', '7d'] as const;
export type RelativeRange = (typeof RANGES)[number];

/** A relative range ending now, or a fixed one [start, stop). */
export type TimeRange = { range: RelativeRange } | { start: Date; stop: Date };

export interface ViewState {
  time: TimeRange;
  live: boolean;
  filter: Filter | null;
  user: string | null;
  alert: string | null;
}

export const DEFAULT_RANGE: RelativeRange = '5m';

export const DEFAULT_VIEW: ViewState = { time: { range: DEFAULT_RANGE }, live: true, filter: null, user: null, alert: null };

const isRange = (v: string | null): v is RelativeRange => v !== null && (RANGES as readonly string[]).includes(v);

function validDate(s: string | null): Date | null {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Reads the view from a query string; what is missing or invalid takes its default. */
export function parseView(search: string): ViewState {
  const p = new URLSearchParams(search);
  const start = validDate(p.get('from'));
  const stop = validDate(p.get('to'));
  const range = p.get('range');
  const time: TimeRange = start && stop && start < stop ? { start, stop } : { range: isRange(range) ? range : DEFAULT_RANGE };
  const f = p.get('filter');
  const user = p.get('user');
  return {
    time,
    live: p.get('live') !== 'false',
    filter: f ? filterFor(f) : null,
    user: user || null,
    alert: p.get('alert') || null,
  };
}

/**
 * Writes the view into a query string, keeping the parameters it does not
 * own; defaults are left out, so a plain page has a plain URL.
 */
export function formatView(v: ViewState, search = ''): string {
  const p = new URLSearchParams(search);
  for (const k of ['range', 'from', 'to', 'live', 'filter', 'user', 'alert']) p.delete(k);
  if ('start' in v.time) {
    p.set('from', v.time.start.toISOString());
    p.set('to', v.time.stop.toISOString());
  } else if (v.time.range !== DEFAULT_RANGE) {
    p.set('range', v.time.range);
  }
  if (!v.live) p.set('live', 'false');
  if (v.filter) p.set('filter', v.filter.value);
  if (v.user) p.set('user', v.user);
  if (v.alert) p.set('alert', v.alert);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A label for a range: "last 15m", or "10:00 – 11:30" for a fixed one. */
export function rangeLabel(t: TimeRange): string {
  if ('range' in t) return `last ${t.range}`;
  const f = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');
  return `${f(t.start)} – ${f(t.stop)} UTC`;
}
