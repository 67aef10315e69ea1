// The dashboard's live state and the pure functions that advance it. React
// holds one DashboardState; the frame-flush applies one Batch per frame.

import type { Alert, HistoryResponse, Metrics, MetricsSnapshot, SecurityEvent, Severity } from '../types';
import type { Batch } from './buffer';
import { parseGoDuration, toMillis } from './format';

/** One closed window on the live chart. */
export interface ChartPoint {
  /** window end, epoch seconds */
  t: number;
  /** events per second by event type */
  byType: Record<string, number>;
  total: number;
}

export interface TimelineEvent extends SecurityEvent {
  /** stable React key */
  seq: number;
}

export interface DashboardState {
  clientId: string | null;
  metrics: Metrics | null;
  points: ChartPoint[];
  alerts: Record<string, Alert>;
  /** newest first */
  events: TimelineEvent[];
  nextSeq: number;
  /** last "dropped" reported by the server for this client */
  dropped: number;
  /** discarded locally while paused */
  discarded: number;
  received: number;
}

export interface Limits {
  /** span of the live chart */
  chartSeconds: number;
  /** length of the timeline */
  maxEvents: number;
  /** alerts kept in memory (resolved ones go first) */
  maxAlerts: number;
}

export const DEFAULT_LIMITS: Limits = { chartSeconds: 180, maxEvents: 200, maxAlerts: 500 };

export function initialState(): DashboardState {
  return {
    clientId: null,
    metrics: null,
    points: [],
    alerts: {},
    events: [],
    nextSeq: 1,
    dropped: 0,
    discarded: 0,
    received: 0,
  };
}

/** Chart point for one metrics window: counts are turned into per-second rates. */
export function pointFromMetrics(m: Metrics): ChartPoint | null {
  const end = toMillis(m.windowEnd);
  if (Number.isNaN(end)) return null;
  const start = toMillis(m.windowStart);
  const secs = Number.isNaN(start) || end <= start ? 1 : (end - start) / 1000;
  const byType: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(m.byType ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    byType[k] = v / secs;
    total += v / secs;
  }
  return { t: Math.round(end / 1000), byType, total };
}

/** Inserts/replaces points by t (a re-emitted window replaces the old one), sorted, trimmed to the span. */
export function mergePoints(points: ChartPoint[], add: ChartPoint[], spanSeconds: number, replace = true): ChartPoint[] {
  if (add.length === 0) return points;
  const byT = new Map<number, ChartPoint>();
  for (const p of points) byT.set(p.t, p);
  for (const p of add) {
    if (replace || !byT.has(p.t)) byT.set(p.t, p);
  }
  const out = [...byT.values()].sort((a, b) => a.t - b.t);
  const last = out[out.length - 1];
  if (!last) return out;
  const min = last.t - spanSeconds;
  let i = 0;
  while (i < out.length && (out[i] as ChartPoint).t <= min) i++;
  return i > 0 ? out.slice(i) : out;
}

function newer(a: Metrics | null, b: Metrics): boolean {
  if (!a) return true;
  const ta = toMillis(a.windowEnd);
  const tb = toMillis(b.windowEnd);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return true;
  return tb >= ta;
}

/** Keeps at most max alerts: resolved before firing, oldest lastSeen first, are dropped. */
export function trimAlerts(alerts: Record<string, Alert>, max: number): Record<string, Alert> {
  const ids = Object.keys(alerts);
  if (ids.length <= max) return alerts;
  const sorted = ids
    .map((id) => alerts[id] as Alert)
    .sort((a, b) => {
      const fa = a.status === 'firing' ? 1 : 0;
      const fb = b.status === 'firing' ? 1 : 0;
      if (fa !== fb) return fa - fb;
      return toMillis(a.lastSeen) - toMillis(b.lastSeen);
    });
  const out: Record<string, Alert> = {};
  for (const a of sorted.slice(sorted.length - max)) out[a.id] = a;
  return out;
}

/** Applies one frame's worth of stream messages. Returns the same object if nothing changed. */
export function applyBatch(s: DashboardState, b: Batch, lim: Limits = DEFAULT_LIMITS): DashboardState {
  if (b.received === 0) return s;
  const next: DashboardState = { ...s, received: s.received + b.received };
  if (b.hello) next.clientId = b.hello.clientId ?? b.hello.id ?? null;
  if (b.dropped > 0) next.dropped = b.dropped;
  if (b.discarded > 0) next.discarded = s.discarded + b.discarded;

  if (b.metrics.length > 0) {
    const pts: ChartPoint[] = [];
    let latest = s.metrics;
    for (const m of b.metrics) {
      const p = pointFromMetrics(m);
      if (p) pts.push(p);
      if (newer(latest, m)) latest = m;
    }
    next.metrics = latest;
    next.points = mergePoints(s.points, pts, lim.chartSeconds);
  }

  if (b.alerts.length > 0) {
    const alerts = { ...s.alerts };
    for (const a of b.alerts) {
      if (!a || typeof a.id !== 'string') continue;
      alerts[a.id] = a;
    }
    next.alerts = trimAlerts(alerts, lim.maxAlerts);
  }

  if (b.events.length > 0) {
    let seq = s.nextSeq;
    const fresh: TimelineEvent[] = [];
    // Batch events are oldest first; the timeline is newest first.
    const from = Math.max(0, b.events.length - lim.maxEvents);
    for (let i = b.events.length - 1; i >= from; i--) {
      fresh.push({ ...(b.events[i] as SecurityEvent), seq: seq++ });
    }
    next.nextSeq = seq;
    const keep = lim.maxEvents - fresh.length;
    next.events = keep > 0 ? fresh.concat(s.events.slice(0, keep)) : fresh;
  }
  return next;
}

/**
 * Replaces the alert set with the server's list (after a (re)connect), keeping
 * stream versions that are newer than the list, and alerts that are absent
 * from it but were seen by the stream at or after `keepSince` (epoch ms: when
 * the request was sent), since they may have been raised after the snapshot.
 */
export function refillAlerts(
  s: DashboardState,
  list: Alert[],
  keepSince = Infinity,
  lim: Limits = DEFAULT_LIMITS,
): DashboardState {
  const alerts: Record<string, Alert> = {};
  for (const a of list) {
    if (a && typeof a.id === 'string') alerts[a.id] = a;
  }
  for (const [id, a] of Object.entries(s.alerts)) {
    const srv = alerts[id];
    if (!srv) {
      if (toMillis(a.lastSeen) >= keepSince) alerts[id] = a;
      continue;
    }
    // A stream update that is newer than the REST snapshot wins.
    if (toMillis(a.lastSeen) > toMillis(srv.lastSeen)) alerts[id] = { ...a, acked: a.acked || srv.acked };
  }
  return { ...s, alerts: trimAlerts(alerts, lim.maxAlerts) };
}

/** Marks one alert acknowledged (or replaces it with the server's copy). */
export function upsertAlert(s: DashboardState, a: Alert): DashboardState {
  return { ...s, alerts: { ...s.alerts, [a.id]: a } };
}

export function setAcked(s: DashboardState, id: string, acked: boolean): DashboardState {
  const a = s.alerts[id];
  if (!a || a.acked === acked) return s;
  return { ...s, alerts: { ...s.alerts, [id]: { ...a, acked } } };
}

/**
 * Fills the live chart from /api/history?metric=events&groupBy=eventType.
 * Point values are counts per interval, stamped with the bucket's start; the
 * live chart stamps windows with their end, so points are shifted by one
 * interval, and a bucket that ends after `stop` (still filling) is skipped.
 * Live windows already present win.
 */
export function refillChart(s: DashboardState, h: HistoryResponse, lim: Limits = DEFAULT_LIMITS): DashboardState {
  const ivMs = parseGoDuration(h.interval);
  const secs = Number.isFinite(ivMs) && ivMs > 0 ? ivMs / 1000 : 1;
  const stopMs = toMillis(h.stop);
  const byT = new Map<number, ChartPoint>();
  for (const series of h.series ?? []) {
    for (const pt of series.points ?? []) {
      const ms = toMillis(pt.t);
      if (Number.isNaN(ms) || typeof pt.v !== 'number') continue;
      const endMs = ms + secs * 1000;
      if (endMs > stopMs) continue;
      const t = Math.round(endMs / 1000);
      let p = byT.get(t);
      if (!p) {
        p = { t, byType: {}, total: 0 };
        byT.set(t, p);
      }
      const rate = pt.v / secs;
      p.byType[series.key || 'events'] = (p.byType[series.key || 'events'] ?? 0) + rate;
      p.total += rate;
    }
  }
  if (byT.size === 0) return s;
  return { ...s, points: mergePoints(s.points, [...byT.values()], lim.chartSeconds, false) };
}

/** Seeds the metric cards and top lists from /api/metrics before the first live window arrives. */
export function seedFromSnapshot(s: DashboardState, snap: MetricsSnapshot): DashboardState {
  if (s.metrics) return s;
  const openAlerts = Object.values(s.alerts).filter((a) => a.status === 'firing').length;
  const m: Metrics = {
    windowStart: snap.from,
    windowEnd: snap.to,
    eventsPerSecond: snap.eventsPerSecond,
    byType: {},
    totalEvents: snap.totalEvents,
    activeUsers: snap.activeUsers,
    openAlerts,
    topEventTypes: snap.topEventTypes,
    topUsers: snap.topUsers,
    topIPs: snap.topIPs,
    bySeverity: snap.bySeverity ?? {},
  };
  return { ...s, metrics: m };
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

export function severityRank(s: string): number {
  return SEVERITY_RANK[s as Severity] ?? -1;
}

/** Table order: firing first, then most recently seen, then most severe. Stable for equal keys. */
export function sortAlerts(alerts: Iterable<Alert>): Alert[] {
  return [...alerts].sort((a, b) => {
    const fa = a.status === 'firing' ? 0 : 1;
    const fb = b.status === 'firing' ? 0 : 1;
    if (fa !== fb) return fa - fb;
    const ta = toMillis(a.lastSeen);
    const tb = toMillis(b.lastSeen);
    if (ta !== tb) return (Number.isNaN(tb) ? 0 : tb) - (Number.isNaN(ta) ? 0 : ta);
    const sv = severityRank(b.severity) - severityRank(a.severity);
    if (sv !== 0) return sv;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

/**
 * Merges GET /api/alerts?silenced=true into the live alerts. Silenced
 * alerts are not sent on the stream, so the server's copy is the newer one
 * unless the stream has a later emission (the silence ended, or the list is
 * older than the update): that one wins. The acknowledgement is kept from
 * either. Order: as sortAlerts.
 */
export function mergeSilenced(live: readonly Alert[], silenced: readonly Alert[] | null | undefined): Alert[] {
  if (!silenced || silenced.length === 0) return sortAlerts(live);
  const byId = new Map<string, Alert>();
  for (const a of live) byId.set(a.id, a);
  for (const s of silenced) {
    if (!s || typeof s.id !== 'string') continue;
    const cur = byId.get(s.id);
    if (!cur) byId.set(s.id, s);
    else if (!(toMillis(cur.lastSeen) > toMillis(s.lastSeen))) byId.set(s.id, { ...s, acked: s.acked || cur.acked });
  }
  return sortAlerts(byId.values());
}
