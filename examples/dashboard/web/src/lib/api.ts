// HTTP/WebSocket access to the dashboard API. A `?token=…` in the page URL
// is exchanged once (POST /api/login) for an HttpOnly cookie, and removed
// from the URL: the cookie then goes with every request and the WebSocket
// handshake, so the token is in no URL, history entry or log.

import type {
  Alert,
  HistoryGroupBy,
  HistoryMetric,
  HistoryResponse,
  MetricsSnapshot,
  RefusedKind,
  UserActivity,
} from '../types';
import { parseHealth, parseRefused } from './health';
import type { TimeRange } from './urlstate';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** The token from the page URL's query string, or null. */
export function tokenFromSearch(search: string): string | null {
  const t = new URLSearchParams(search).get('token');
  return t ? t : null;
}

/** The query string without its token parameter. */
export function withoutToken(search: string): string {
  const p = new URLSearchParams(search);
  p.delete('token');
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * Exchanges a `?token=` of the page URL for the session cookie and drops it
 * from the URL. Resolves to an error message when the server refused it.
 */
export async function loginFromUrl(): Promise<string | null> {
  const token = tokenFromSearch(window.location.search);
  if (!token) return null;
  window.history.replaceState(
    window.history.state,
    '',
    `${window.location.pathname}${withoutToken(window.location.search)}${window.location.hash}`,
  );
  const res = await fetch('/api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
  });
  return res.ok ? null : `the token in the link was refused (${res.status})`;
}

/** ws(s)://host/api/events/stream?topics=… for a page location (the cookie authenticates). */
export function streamUrl(loc: { protocol: string; host: string }, topics: readonly string[]): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  // Commas are legal in a query; keep them literal so the URL reads as documented.
  return `${scheme}//${loc.host}/api/events/stream?topics=${topics.map(encodeURIComponent).join(',')}`;
}

/** The query parameters of a time range: range=…, or start=…&stop=…. */
export function timeParams(t: TimeRange): Record<string, string> {
  return 'start' in t ? { start: t.start.toISOString(), stop: t.stop.toISOString() } : { range: t.range };
}

export interface HistoryQuery {
  metric: HistoryMetric;
  groupBy: HistoryGroupBy;
  /** "15m" | "1h" | "24h"; ignored when start/stop are set */
  range?: string;
  start?: Date;
  stop?: Date;
  /** e.g. "1m"; empty lets the server choose */
  interval?: string;
}

/** Query string (without "?") for GET /api/history. */
export function historyParams(q: HistoryQuery): string {
  const p = new URLSearchParams({ metric: q.metric });
  if (q.groupBy) p.set('groupBy', q.groupBy);
  if (q.start && q.stop) {
    p.set('start', q.start.toISOString());
    p.set('stop', q.stop.toISOString());
  } else {
    p.set('range', q.range ?? '15m');
  }
  if (q.interval) p.set('interval', q.interval);
  return p.toString();
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Accepts the documented flat reply and the variant that nests the query
 * under "query" with a numeric (nanosecond) interval; returns the flat form
 * with a Go-duration interval string ("30s").
 */
export function normalizeHistory(raw: unknown): HistoryResponse {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const q = (r.query && typeof r.query === 'object' ? r.query : r) as Record<string, unknown>;
  let interval = q.interval ?? r.interval;
  if (typeof interval === 'number' && Number.isFinite(interval)) interval = `${interval / 1e9}s`;
  return {
    metric: str(q.metric ?? r.metric),
    groupBy: str(q.groupBy ?? r.groupBy),
    start: str(q.start ?? r.start),
    stop: str(q.stop ?? r.stop),
    interval: str(interval),
    series: Array.isArray(r.series) ? (r.series as HistoryResponse['series']) : [],
  };
}

/** fetch + JSON + error mapping ({"error": "..."} bodies become ApiError). */
export async function apiFetch<T>(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('Accept', 'application/json');
  const res = await fetch(path, { ...init, headers, credentials: 'same-origin', signal: signal ?? init.signal ?? null });
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const msg =
      body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'string'
        ? (body as { error: string }).error
        : `${res.status} ${res.statusText || 'request failed'}`;
    throw new ApiError(res.status, msg);
  }
  return body as T;
}

export const api = {
  metrics: (t: TimeRange, signal?: AbortSignal) =>
    apiFetch<MetricsSnapshot>(`/api/metrics?${new URLSearchParams(timeParams(t))}`, {}, signal),
  history: (q: HistoryQuery, signal?: AbortSignal) =>
    apiFetch<unknown>(`/api/history?${historyParams(q)}`, {}, signal).then(normalizeHistory),
  alerts: (status: 'firing' | 'resolved' | 'all' = 'all', signal?: AbortSignal) =>
    apiFetch<{ alerts: Alert[] | null }>(`/api/alerts?status=${status}`, {}, signal),
  ack: (id: string) =>
    apiFetch<{ alert: Alert }>(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST' }),
  user: (id: string, t: TimeRange, signal?: AbortSignal) =>
    apiFetch<UserActivity>(`/api/users/${encodeURIComponent(id)}?${new URLSearchParams(timeParams(t))}`, {}, signal),
  health: (signal?: AbortSignal) => apiFetch<unknown>('/api/health', {}, signal).then(parseHealth),
  /** GET /api/deadletters or /api/late, newest first */
  refused: (kind: RefusedKind, limit = 100, signal?: AbortSignal) =>
    apiFetch<unknown>(`/api/${kind}?limit=${limit}`, {}, signal).then(parseRefused),
};

/** A silence, as GET /api/silences lists it. */
export interface SilenceView {
  id: string;
  matchers: { name: string; op: string; value: string }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  createdAt: string;
  state: 'active' | 'pending' | 'expired';
}

export interface SilenceRequest {
  matchers: { name: string; op: string; value: string }[];
  duration: string;
  createdBy: string;
  comment: string;
}

/** The body of POST /api/silences for a form, or an error naming what is missing. */
export function silenceRequest(form: { rule: string; key: string; duration: string; createdBy: string; comment: string }): SilenceRequest | string {
  const matchers: SilenceRequest['matchers'] = [];
  if (form.rule.trim()) matchers.push({ name: 'rule', op: '=', value: form.rule.trim() });
  if (form.key.trim()) matchers.push({ name: 'key', op: '=', value: form.key.trim() });
  if (matchers.length === 0) return 'give a rule or a key';
  if (!form.createdBy.trim()) return 'give an author';
  if (!form.comment.trim()) return 'give a comment';
  return { matchers, duration: form.duration, createdBy: form.createdBy.trim(), comment: form.comment.trim() };
}

export interface RuleView {
  name: string;
  description: string;
  type: string;
  severity: string;
  groupBy: string;
  tags: string[];
  riskOnly: boolean;
  source: string;
  stats?: { matched: number; skipped: number; detections: number; fired: number; resolved: number; firing: number; keys: number };
}

export interface ReloadView {
  at: string;
  ok: boolean;
  error: string;
  trigger: string;
  files: string[];
  rules: number;
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: number;
}

export const detectionApi = {
  silences: (signal?: AbortSignal) => apiFetch<{ silences: SilenceView[] }>('/api/silences', {}, signal),
  createSilence: (body: SilenceRequest) =>
    apiFetch<{ silence: SilenceView }>('/api/silences', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  expireSilence: (id: string) => apiFetch<{ silence: SilenceView }>(`/api/silences/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  rules: (signal?: AbortSignal) => apiFetch<{ rules: RuleView[]; reload: ReloadView }>('/api/rules', {}, signal),
  reload: async (): Promise<ReloadView> => {
    try {
      const r = await apiFetch<{ reload: ReloadView }>('/api/rules/reload', { method: 'POST' });
      return r.reload;
    } catch (e) {
      if (e instanceof ApiError) return { at: new Date().toISOString(), ok: false, error: e.message, trigger: 'api', files: [], rules: 0, added: [], removed: [], changed: [], unchanged: 0 };
      throw e;
    }
  },
};
