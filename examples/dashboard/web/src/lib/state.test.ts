import { describe, expect, it } from 'vitest';
import { emptyBatch, type Batch } from './buffer';
import { alert, event, metrics } from './testdata';
import {
  applyBatch,
  initialState,
  mergePoints,
  pointFromMetrics,
  refillAlerts,
  refillChart,
  seedFromSnapshot,
  setAcked,
  sortAlerts,
  trimAlerts,
  type ChartPoint,
} from './state';

const batch = (b: Partial<Batch>): Batch => {
  const out = { ...emptyBatch(), ...b };
  out.received = b.received ?? out.metrics.length + out.alerts.length + out.events.length + (out.hello ? 1 : 0);
  return out;
};

describe('applyBatch', () => {
  it('returns the same state for an empty batch (no re-render)', () => {
    const s = initialState();
    expect(applyBatch(s, emptyBatch())).toBe(s);
  });

  it('takes the newest metrics window and appends chart points', () => {
    let s = initialState();
    s = applyBatch(s, batch({ metrics: [metrics(2), metrics(1)] }));
    expect(s.metrics?.totalEvents).toBe(20);
    expect(s.points.map((p) => p.t)).toEqual([
      Date.UTC(2026, 0, 1, 0, 0, 1) / 1000,
      Date.UTC(2026, 0, 1, 0, 0, 2) / 1000,
    ]);
    expect(s.points[0]?.byType).toEqual({ login_failed: 2, file_access: 8 });
    expect(s.points[0]?.total).toBe(10);
  });

  it('replaces a re-emitted window and trims to the chart span', () => {
    let s = initialState();
    const lim = { chartSeconds: 3, maxEvents: 10, maxAlerts: 10 };
    for (let i = 1; i <= 6; i++) s = applyBatch(s, batch({ metrics: [metrics(i)] }), lim);
    expect(s.points).toHaveLength(3);
    s = applyBatch(s, batch({ metrics: [metrics(5, { byType: { x: 1 } })] }), lim);
    expect(s.points).toHaveLength(3);
    expect(s.points[1]?.byType).toEqual({ x: 1 });
    expect(s.metrics?.totalEvents).toBe(60); // the late window does not rewind the cards
  });

  it('upserts alerts by id', () => {
    let s = initialState();
    s = applyBatch(s, batch({ alerts: [alert('a'), alert('b')] }));
    s = applyBatch(s, batch({ alerts: [alert('a', { status: 'resolved' })] }));
    expect(Object.keys(s.alerts).sort()).toEqual(['a', 'b']);
    expect(s.alerts['a']?.status).toBe('resolved');
  });

  it('keeps the timeline newest first and capped', () => {
    const lim = { chartSeconds: 60, maxEvents: 3, maxAlerts: 10 };
    let s = initialState();
    s = applyBatch(s, batch({ events: [event('1'), event('2')] }), lim);
    expect(s.events.map((e) => e.userId)).toEqual(['2', '1']);
    s = applyBatch(s, batch({ events: [event('3'), event('4')] }), lim);
    expect(s.events.map((e) => e.userId)).toEqual(['4', '3', '2']);
    s = applyBatch(s, batch({ events: ['5', '6', '7', '8', '9'].map((u) => event(u)) }), lim);
    expect(s.events.map((e) => e.userId)).toEqual(['9', '8', '7']);
    const seqs = s.events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(3);
  });

  it('records hello, dropped and discarded', () => {
    let s = initialState();
    s = applyBatch(s, batch({ hello: { clientId: 'c9', topics: [] }, dropped: 4, discarded: 2, received: 3 }));
    expect(s.clientId).toBe('c9');
    expect(s.dropped).toBe(4);
    expect(s.discarded).toBe(2);
    expect(s.received).toBe(3);
  });

  it('handles 1000 frames of 10 messages quickly', () => {
    let s = initialState();
    const t0 = performance.now();
    for (let f = 0; f < 1000; f++) {
      s = applyBatch(s, batch({ metrics: [metrics(f)], events: Array.from({ length: 9 }, (_, i) => event('u' + i)) }));
    }
    expect(s.events).toHaveLength(200);
    expect(s.points.length).toBeLessThanOrEqual(181);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('points', () => {
  it('converts counts of longer windows to rates', () => {
    const p = pointFromMetrics(
      metrics(10, { windowStart: '2026-01-01T00:00:00Z', windowEnd: '2026-01-01T00:00:10Z', byType: { a: 50 } }),
    );
    expect(p?.byType).toEqual({ a: 5 });
    expect(pointFromMetrics(metrics(1, { windowEnd: 'bad' }))).toBeNull();
  });
  it('mergePoints can keep existing points', () => {
    const a: ChartPoint[] = [{ t: 10, byType: { x: 1 }, total: 1 }];
    const merged = mergePoints(a, [{ t: 10, byType: { x: 9 }, total: 9 }, { t: 9, byType: {}, total: 0 }], 60, false);
    expect(merged.map((p) => [p.t, p.total])).toEqual([
      [9, 0],
      [10, 1],
    ]);
  });
});

describe('refills', () => {
  it('refillAlerts replaces the set but keeps newer stream versions', () => {
    let s = initialState();
    s = applyBatch(s, batch({ alerts: [alert('a', { lastSeen: '2026-01-01T00:05:00Z', count: 50 }), alert('gone')] }));
    s = refillAlerts(s, [alert('a', { lastSeen: '2026-01-01T00:04:00Z', acked: true }), alert('new')]);
    expect(Object.keys(s.alerts).sort()).toEqual(['a', 'new']);
    expect(s.alerts['a']?.count).toBe(50);
    expect(s.alerts['a']?.acked).toBe(true);
  });

  it('refillAlerts keeps stream-only alerts seen since the request', () => {
    let s = initialState();
    s = applyBatch(s, batch({ alerts: [alert('fresh', { lastSeen: '2026-01-01T00:05:00Z' }), alert('stale')] }));
    s = refillAlerts(s, [], Date.UTC(2026, 0, 1, 0, 4, 59));
    expect(Object.keys(s.alerts)).toEqual(['fresh']);
  });

  it('refillChart turns interval counts into rates and keeps live points', () => {
    let s = initialState();
    s = applyBatch(s, batch({ metrics: [metrics(120)] }));
    s = refillChart(s, {
      metric: 'events',
      groupBy: 'eventType',
      start: '2026-01-01T00:00:00Z',
      stop: '2026-01-01T00:02:30Z',
      interval: '1m0s',
      series: [
        {
          key: 'a',
          points: [
            { t: '2026-01-01T00:00:00Z', v: 120 },
            { t: '2026-01-01T00:01:00Z', v: 600 },
            { t: '2026-01-01T00:02:00Z', v: 6 }, // still filling at stop: skipped
          ],
        },
        { key: 'b', points: [{ t: '2026-01-01T00:00:00Z', v: 60 }] },
        { key: 'c', points: null },
      ],
    });
    expect(s.points.map((p) => p.t)).toEqual([Date.UTC(2026, 0, 1, 0, 1) / 1000, Date.UTC(2026, 0, 1, 0, 2) / 1000]);
    expect(s.points[0]?.byType).toEqual({ a: 2, b: 1 });
    expect(s.points[1]?.byType).toEqual({ login_failed: 2, file_access: 8 }); // live window wins
  });

  it('seedFromSnapshot only fills an empty view', () => {
    const snap = {
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-01T00:05:00Z',
      totalEvents: 77,
      eventsPerSecond: 1.5,
      activeUsers: 3,
      topEventTypes: [],
      bySeverity: {},
      topUsers: null,
      topIPs: null,
      byType: {},
    };
    let s = applyBatch(initialState(), batch({ alerts: [alert('a'), alert('b', { status: 'resolved' })] }));
    s = seedFromSnapshot(s, snap);
    expect(s.metrics?.totalEvents).toBe(77);
    expect(s.metrics?.openAlerts).toBe(1);
    const live = applyBatch(initialState(), batch({ metrics: [metrics(3)] }));
    expect(seedFromSnapshot(live, snap)).toBe(live);
  });
});

describe('alerts helpers', () => {
  it('setAcked flips one alert', () => {
    let s = applyBatch(initialState(), batch({ alerts: [alert('a')] }));
    s = setAcked(s, 'a', true);
    expect(s.alerts['a']?.acked).toBe(true);
    expect(setAcked(s, 'missing', true)).toBe(s);
  });
  it('sortAlerts: firing first, newest first, then severity', () => {
    const list = [
      alert('old', { lastSeen: '2026-01-01T00:00:01Z' }),
      alert('resolved', { status: 'resolved', lastSeen: '2026-01-01T00:09:00Z' }),
      alert('new', { lastSeen: '2026-01-01T00:05:00Z' }),
      alert('crit', { lastSeen: '2026-01-01T00:00:01Z', severity: 'critical' }),
    ];
    expect(sortAlerts(list).map((a) => a.id)).toEqual(['new', 'crit', 'old', 'resolved']);
  });
  it('trimAlerts drops resolved then oldest', () => {
    const all = {
      a: alert('a', { status: 'resolved', lastSeen: '2026-01-01T00:09:00Z' }),
      b: alert('b', { lastSeen: '2026-01-01T00:01:00Z' }),
      c: alert('c', { lastSeen: '2026-01-01T00:02:00Z' }),
    };
    expect(Object.keys(trimAlerts(all, 2)).sort()).toEqual(['b', 'c']);
    expect(Object.keys(trimAlerts(all, 1))).toEqual(['c']);
  });
});
