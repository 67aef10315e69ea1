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
  ReloadResult,
  Rule,
  RulesResponse,
  Silence,
  SilenceRequest,
  UserActivity,
} from '../types';
import { parseHealth, parseRefused } from './health';
import type { TimeRange } from './urlstate';

export class ApiError extends Error {
  readonly status: number;
  /** the parsed JSON body of the reply, null when it had none */
  readonly body: unknown;
  constructor(status: number, message: string, body: unknown = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
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
    throw new ApiError(res.status, msg, body);
  }
  return body as T;
}

export const api = {
  metrics: (t: TimeRange, signal?: AbortSignal) =>
    apiFetch<MetricsSnapshot>(`/api/metrics?${new URLSearchParams(timeParams(t))}`, {}, signal),
  history: (q: HistoryQuery, signal?: AbortSignal) =>
    apiFetch<unknown>(`/api/history?${historyParams(q)}`, {}, signal).then(normalizeHistory),
  /** silenced: true only the alerts a silence matched, false only the others, omitted all */
  alerts: (status: 'firing' | 'resolved' | 'all' = 'all', signal?: AbortSignal, silenced?: boolean) =>
    apiFetch<{ alerts: Alert[] | null }>(
      `/api/alerts?status=${status}${silenced === undefined ? '' : `&silenced=${silenced}`}`,
      {},
      signal,
    ),
  ack: (id: string) =>
    apiFetch<{ alert: Alert }>(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST' }),
  user: (id: string, t: TimeRange, signal?: AbortSignal) =>
    apiFetch<UserActivity>(`/api/users/${encodeURIComponent(id)}?${new URLSearchParams(timeParams(t))}`, {}, signal),
  health: (signal?: AbortSignal) => apiFetch<unknown>('/api/health', {}, signal).then(parseHealth),
  /** GET /api/deadletters or /api/late, newest first */
  refused: (kind: RefusedKind, limit = 100, signal?: AbortSignal) =>
    apiFetch<unknown>(`/api/${kind}?limit=${limit}`, {}, signal).then(parseRefused),
  /** GET /api/silences: active, then pending, then expired */
  silences: (signal?: AbortSignal) =>
    apiFetch<{ silences: Silence[] | null }>('/api/silences', {}, signal).then((r) => r?.silences ?? []),
  /** POST /api/silences; a 400's error text is the ApiError's message */
  createSilence: (body: SilenceRequest) =>
    apiFetch<{ silence: Silence }>('/api/silences', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.silence),
  /** DELETE /api/silences/{id}: the silence ends now */
  expireSilence: (id: string) =>
    apiFetch<{ silence: Silence }>(`/api/silences/${encodeURIComponent(id)}`, { method: 'DELETE' }).then((r) => r.silence),
  rules: (signal?: AbortSignal) => apiFetch<RulesResponse>('/api/rules', {}, signal),
  /** POST /api/rules/reload: the load's result, refused (422) or not */
  reloadRules: () =>
    apiFetch<unknown>('/api/rules/reload', { method: 'POST' }).then(
      (body) => reloadOutcome(200, body),
      (e: unknown) => {
        const out = e instanceof ApiError ? reloadOutcome(e.status, e.body) : null;
        if (out) return out;
        throw e;
      },
    ),
};

/** What POST /api/rules/reload said: the load's result, and the rules now running when it was taken. */
export interface ReloadOutcome {
  reload: ReloadResult;
  /** null when the set was refused (the running set keeps running) */
  rules: Rule[] | null;
}

/**
 * Reads a POST /api/rules/reload reply: 200 with the new set, or 422 with
 * the refused load (ok false, the error verbatim). Null for any other
 * reply, which is then an error of its own.
 */
export function reloadOutcome(status: number, body: unknown): ReloadOutcome | null {
  if (status !== 200 && status !== 422) return null;
  const b = (body && typeof body === 'object' ? body : {}) as { reload?: unknown; rules?: unknown; error?: unknown };
  if (!b.reload || typeof b.reload !== 'object') return null;
  const reload = { ...(b.reload as ReloadResult) };
  if (status === 422) {
    reload.ok = false;
    if (!reload.error && typeof b.error === 'string') reload.error = b.error;
  }
  return { reload, rules: status === 200 && Array.isArray(b.rules) ? (b.rules as Rule[]) : null };
}
