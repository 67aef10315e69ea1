import { describe, expect, it } from 'vitest';
import { historyParams, normalizeHistory, streamUrl, timeParams, tokenFromSearch, withoutToken } from './api';
import type { ChartPoint } from './state';
import { alignHistory, ColorAssigner, OTHER, stackPoints } from './chart';
import { filterFor, looksLikeIp, matchesAlert, matchesEvent } from './filter';
import { alert, event } from './testdata';

describe('api helpers', () => {
  it('reads the token from the page URL', () => {
    expect(tokenFromSearch('?token=abc%20d&x=1')).toBe('abc d');
    expect(tokenFromSearch('?token=')).toBeNull();
    expect(tokenFromSearch('')).toBeNull();
  });
  it('drops the token from the page URL', () => {
    expect(withoutToken('?token=abc&range=1h')).toBe('?range=1h');
    expect(withoutToken('?token=abc')).toBe('');
  });
  it('builds the stream URL from the page location, with no token in it', () => {
    expect(streamUrl({ protocol: 'http:', host: 'h:8080' }, ['metrics', 'alerts'])).toBe(
      'ws://h:8080/api/events/stream?topics=metrics,alerts',
    );
    expect(streamUrl({ protocol: 'https:', host: 'h' }, ['events'])).toBe('wss://h/api/events/stream?topics=events');
  });
  it('turns a time range into query parameters', () => {
    expect(timeParams({ range: '1h' })).toEqual({ range: '1h' });
    expect(timeParams({ start: new Date('2026-01-01T00:00:00Z'), stop: new Date('2026-01-01T01:00:00Z') })).toEqual({
      start: '2026-01-01T00:00:00.000Z',
      stop: '2026-01-01T01:00:00.000Z',
    });
  });
  it('builds history queries', () => {
    expect(historyParams({ metric: 'events', groupBy: 'eventType', range: '1h' })).toBe(
      'metric=events&groupBy=eventType&range=1h',
    );
    expect(
      historyParams({
        metric: 'alerts',
        groupBy: '',
        start: new Date('2026-01-01T00:00:00Z'),
        stop: new Date('2026-01-01T01:00:00Z'),
        interval: '1m',
      }),
    ).toBe('metric=alerts&start=2026-01-01T00%3A00%3A00.000Z&stop=2026-01-01T01%3A00%3A00.000Z&interval=1m');
  });
});

describe('normalizeHistory', () => {
  const series = [{ key: 'a', points: [{ t: '2026-01-01T00:00:00Z', v: 1 }] }];
  it('passes the documented shape through', () => {
    const h = normalizeHistory({ metric: 'events', groupBy: 'eventType', start: 's', stop: 'e', interval: '1m0s', series });
    expect(h).toEqual({ metric: 'events', groupBy: 'eventType', start: 's', stop: 'e', interval: '1m0s', series });
  });
  it('flattens a nested query with a nanosecond interval', () => {
    const h = normalizeHistory({ query: { metric: 'events', groupBy: '', start: 's', stop: 'e', interval: 30e9 }, series });
    expect(h.interval).toBe('30s');
    expect(h.metric).toBe('events');
    expect(h.series).toBe(series);
  });
  it('survives junk', () => {
    expect(normalizeHistory(null).series).toEqual([]);
    expect(normalizeHistory({ series: 'x' }).series).toEqual([]);
  });
});

describe('filter', () => {
  it('tells IPs from user ids', () => {
    expect(looksLikeIp('198.51.100.77')).toBe(true);
    expect(looksLikeIp('2001:db8::1')).toBe(true);
    expect(looksLikeIp('999.1.1.1')).toBe(false);
    expect(looksLikeIp('u-00001')).toBe(false);
    expect(filterFor('10.0.0.1')).toEqual({ kind: 'ip', value: '10.0.0.1' });
    expect(filterFor('u-1')).toEqual({ kind: 'user', value: 'u-1' });
  });
  it('matches events and alerts', () => {
    const f = { kind: 'user' as const, value: 'u-7' };
    expect(matchesEvent(event('u-7'), f)).toBe(true);
    expect(matchesEvent(event('u-8'), f)).toBe(false);
    expect(matchesEvent(event('u-8'), null)).toBe(true);
    expect(matchesEvent(event('u-8'), { kind: 'ip', value: '10.0.0.1' })).toBe(true);
    expect(matchesAlert(alert('a', { key: 'u-7' }), f)).toBe(true);
    expect(matchesAlert(alert('a', { key: 'u-7|10.0.0.1' }), f)).toBe(true);
    expect(matchesAlert(alert('a', { key: 'u-77' }), f)).toBe(false);
    expect(matchesAlert(alert('a', { key: '10.0.0.9', events: [event('u-7')] }), f)).toBe(true);
    expect(matchesAlert(alert('a', { key: 'x', events: null }), f)).toBe(false);
  });
});

describe('stackPoints', () => {
  const pts: ChartPoint[] = [
    { t: 1, byType: { a: 1, b: 10, c: 2 }, total: 13 },
    { t: 2, byType: { a: 3, b: 10 }, total: 13 },
  ];
  it('stacks layers in name order and accumulates', () => {
    const s = stackPoints(pts);
    expect(s.keys).toEqual(['a', 'b', 'c']);
    expect(s.t).toEqual([1, 2]);
    expect(s.raw).toEqual([
      [1, 3],
      [10, 10],
      [2, 0],
    ]);
    expect(s.stacked).toEqual([
      [1, 3],
      [11, 13],
      [13, 13],
    ]);
  });
  it('keeps the key order when volumes shift', () => {
    const a = stackPoints([{ t: 1, byType: { x: 1, y: 5 }, total: 6 }]).keys;
    const b = stackPoints([{ t: 1, byType: { x: 9, y: 5 }, total: 14 }]).keys;
    expect(a).toEqual(b);
  });
  it('folds the tail into "other"', () => {
    const s = stackPoints(pts, 2);
    expect(s.keys).toEqual(['b', OTHER]); // b is the busiest; a and c fold into other
    expect(s.raw[1]).toEqual([3, 3]);
    expect(s.stacked[1]).toEqual([13, 13]);
  });
  it('handles no data', () => {
    expect(stackPoints([])).toEqual({ keys: [], t: [], raw: [], stacked: [] });
  });
  it('keeps colours stable per key', () => {
    const c = new ColorAssigner();
    const a = c.color('a');
    c.color('b');
    expect(c.color('a')).toEqual(a);
    expect(c.color('b')).not.toEqual(a);
    expect(c.color(OTHER)[0]).toBe('#7d8590');
  });
});

describe('alignHistory', () => {
  it('aligns series on the union of timestamps', () => {
    const a = alignHistory([
      { key: 'a', points: [{ t: '2026-01-01T00:01:00Z', v: 1 }, { t: '2026-01-01T00:00:00Z', v: 2 }] },
      { key: '', points: [{ t: '2026-01-01T00:02:00Z', v: 3 }, { t: 'bad', v: 9 }] },
      { key: 'empty', points: null },
    ]);
    const t0 = Date.UTC(2026, 0, 1) / 1000;
    expect(a.keys).toEqual(['a', 'total', 'empty']);
    expect(a.t).toEqual([t0, t0 + 60, t0 + 120]);
    expect(a.values).toEqual([
      [2, 1, null],
      [null, null, 3],
      [null, null, null],
    ]);
  });
  it('leaves out the bucket that is still filling', () => {
    const pts = [
      { t: '2026-01-01T00:00:00Z', v: 5 },
      { t: '2026-01-01T00:01:00Z', v: 1 },
    ];
    const a = alignHistory([{ key: 'a', points: pts }], 60_000, Date.UTC(2026, 0, 1, 0, 1, 30));
    expect(a.values).toEqual([[5]]);
    expect(alignHistory([{ key: 'a', points: pts }], 60_000, Date.UTC(2026, 0, 1, 0, 2)).values).toEqual([[5, 1]]);
  });
  it('handles a missing series list', () => {
    expect(alignHistory(null)).toEqual({ keys: [], t: [], values: [] });
  });
});
