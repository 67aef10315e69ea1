// The view's state in the page URL, so that a reload or a link shows the
// same thing: the time range (or live/pause), the filter, the selected user
// and the selected alert, the alert table's ATT&CK filter and whether it shows
// silenced alerts, and the page (live, rules, silences). Pure functions;
// useUrlState keeps them in sync.

import { normalizeTactic, normalizeTechnique } from './attack';
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
  /** ATT&CK tactic of the alert table's filter, e.g. "credential-access" */
  tactic: string | null;
  /** ATT&CK technique of the alert table's filter, e.g. "T1110" (takes T1110.003 too) */
  technique: string | null;
  /** the alert table lists silenced alerts too */
  silenced: boolean;
  page: Page;
}

export const PAGES = ['live', 'rules', 'silences'] as const;
export type Page = (typeof PAGES)[number];
const isPage = (v: string | null): v is Page => v !== null && (PAGES as readonly string[]).includes(v);

export const DEFAULT_RANGE: RelativeRange = '5m';

export const DEFAULT_VIEW: ViewState = {
  time: { range: DEFAULT_RANGE },
  live: true,
  filter: null,
  user: null,
  alert: null,
  tactic: null,
  technique: null,
  silenced: false,
  page: 'live',
};

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
  const page = p.get('page');
  return {
    time,
    live: p.get('live') !== 'false',
    filter: f ? filterFor(f) : null,
    user: user || null,
    alert: p.get('alert') || null,
    tactic: normalizeTactic(p.get('tactic')),
    technique: normalizeTechnique(p.get('technique')),
    silenced: p.get('silenced') === 'true',
    page: isPage(page) ? page : 'live',
  };
}

/** The query parameters the view owns. */
const OWN = ['range', 'from', 'to', 'live', 'filter', 'user', 'alert', 'tactic', 'technique', 'silenced', 'page'] as const;

/**
 * Writes the view into a query string, keeping the parameters it does not
 * own; defaults are left out, so a plain page has a plain URL.
 */
export function formatView(v: ViewState, search = ''): string {
  const p = new URLSearchParams(search);
  for (const k of OWN) p.delete(k);
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
  if (v.tactic) p.set('tactic', v.tactic);
  if (v.technique) p.set('technique', v.technique);
  if (v.silenced) p.set('silenced', 'true');
  if (v.page !== 'live') p.set('page', v.page);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A label for a range: "last 15m", or "10:00 – 11:30" for a fixed one. */
export function rangeLabel(t: TimeRange): string {
  if ('range' in t) return `last ${t.range}`;
  const f = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');
  return `${f(t.start)} – ${f(t.stop)} UTC`;
}
