import { describe, expect, it } from 'vitest';
import {
  degradedTitle,
  formatSource,
  parseHealth,
  parseRefused,
  refusedSummary,
  sinkSummary,
  visibleRaw,
} from './health';
import type { SinkHealth } from '../types';

const sink = (s: Partial<SinkHealth> = {}): SinkHealth => ({
  name: 'influxdb',
  degraded: true,
  pending: 1234,
  retries: 7,
  blocked: 0,
  failed: 0,
  oldestUnwritten: '2026-12-02T03:19:00Z',
  lastError: 'connection refused',
  ...s,
});
const NOW = Date.parse('2026-12-02T03:19:42Z');

describe('parseHealth', () => {
  it('reads the documented reply', () => {
    const h = parseHealth({
      degraded: true,
      sinks: [
        {
          name: 'influxdb',
          degraded: true,
          pending: 1234,
          retries: 7,
          blocked: 2,
          failed: 0,
          oldestUnwritten: '2026-12-02T03:19:00Z',
          lastError: 'timeout',
        },
        { name: 'kafka', degraded: false, pending: 0, retries: 0, blocked: 0, failed: 0, oldestUnwritten: null, lastError: '' },
      ],
      deadLetters: 12,
      late: 3,
    });
    expect(h).toEqual({
      degraded: true,
      sinks: [
        sink({ blocked: 2, lastError: 'timeout' }),
        sink({ name: 'kafka', degraded: false, pending: 0, retries: 0, oldestUnwritten: null, lastError: '' }),
      ],
      deadLetters: 12,
      late: 3,
    });
  });
  it('is defensive about missing and odd fields', () => {
    expect(parseHealth(null)).toBeNull();
    expect(parseHealth('oops')).toBeNull();
    expect(parseHealth([])).toBeNull();
    expect(parseHealth({})).toEqual({ degraded: false, sinks: [], deadLetters: null, late: null });
    const h = parseHealth({ sinks: [null, 3, { degraded: true, pending: 'many', retries: -1 }], deadLetters: 'x', late: NaN });
    expect(h?.degraded).toBe(true); // derived from the sinks
    expect(h?.sinks).toEqual([
      { name: 'sink', degraded: true, pending: 0, retries: 0, blocked: 0, failed: 0, oldestUnwritten: null, lastError: '' },
    ]);
    expect(h?.deadLetters).toBeNull();
    expect(h?.late).toBeNull();
  });
});

describe('parseRefused', () => {
  it('reads the documented reply', () => {
    const l = parseRefused({
      total: 12,
      kept: 10,
      items: [
        {
          recorded: '2026-12-02T03:20:01.123Z',
          reason: 'severity: "urgent" is not one of low, medium, high, critical',
          field: 'severity',
          sourceTopic: 'security-events',
          partition: 0,
          offset: 5,
          item: 3,
          raw: '{"userId":"u1"}',
        },
        { recorded: '2026-12-02T03:20:00Z', reason: 'late', sourceTopic: 'http', partition: -1, window: '2026-12-02T03:19:00Z', raw: 'x' },
      ],
    });
    expect(l.total).toBe(12);
    expect(l.kept).toBe(10);
    expect(l.items[0]).toEqual({
      recorded: '2026-12-02T03:20:01.123Z',
      reason: 'severity: "urgent" is not one of low, medium, high, critical',
      field: 'severity',
      sourceTopic: 'security-events',
      partition: 0,
      offset: 5,
      item: 3,
      window: '',
      raw: '{"userId":"u1"}',
    });
    expect(l.items[1]).toMatchObject({ field: '', partition: null, offset: null, item: null, window: '2026-12-02T03:19:00Z' });
  });
  it('is defensive about missing and odd fields', () => {
    expect(parseRefused(null)).toEqual({ total: 0, kept: 0, items: [] });
    expect(parseRefused({ items: 'no' })).toEqual({ total: 0, kept: 0, items: [] });
    const l = parseRefused({ items: [null, { raw: { userId: 'u' } }, { raw: null }] });
    expect(l.total).toBe(2);
    expect(l.kept).toBe(2);
    expect(l.items.map((i) => i.raw)).toEqual(['{"userId":"u"}', '']);
  });
});

describe('formatSource', () => {
  const src = { sourceTopic: 'security-events', partition: 0, offset: 5, item: 3 };
  it('shows what is known', () => {
    expect(formatSource(src)).toBe('security-events/0@5 #3');
    expect(formatSource({ ...src, item: null })).toBe('security-events/0@5');
    expect(formatSource({ ...src, partition: null, offset: null })).toBe('security-events #3');
    expect(formatSource({ sourceTopic: 'http', partition: null, offset: null, item: 0 })).toBe('http #0');
    expect(formatSource({ sourceTopic: '', partition: null, offset: null, item: null })).toBe('—');
  });
});

describe('degraded tooltip', () => {
  it('summarises a sink', () => {
    expect(sinkSummary(sink(), NOW)).toBe(
      'influxdb: 1,234 points pending, oldest 42s ago, 7 retries, last error: connection refused',
    );
    expect(sinkSummary(sink({ pending: 1, retries: 1, blocked: 2, failed: 3, oldestUnwritten: null, lastError: '' }), NOW)).toBe(
      'influxdb: 1 point pending, 1 retry, 2 blocked, 3 failed',
    );
    expect(sinkSummary(sink({ pending: 0, retries: 0, oldestUnwritten: 'garbage', lastError: '' }), NOW)).toBe(
      'influxdb: 0 points pending',
    );
  });
  it('names each degraded sink, one a line', () => {
    const h = { degraded: true, sinks: [sink(), sink({ name: 'ok', degraded: false }), sink({ name: 'kafka', lastError: '' })], deadLetters: 0, late: 0 };
    expect(degradedTitle(h, NOW).split('\n')).toEqual([
      'influxdb: 1,234 points pending, oldest 42s ago, 7 retries, last error: connection refused',
      'kafka: 1,234 points pending, oldest 42s ago, 7 retries',
    ]);
    expect(degradedTitle({ degraded: true, sinks: [], deadLetters: null, late: null }, NOW)).toBe(
      'the server reports itself degraded',
    );
  });
});

describe('refused lists', () => {
  const items = (n: number) => parseRefused({ items: Array.from({ length: n }, () => ({ reason: 'r' })) }).items;
  it('summarises what the panel shows', () => {
    expect(refusedSummary({ total: 0, kept: 0, items: [] })).toBe('none since start');
    expect(refusedSummary({ total: 3, kept: 3, items: items(3) })).toBe('all 3');
    expect(refusedSummary({ total: 1200, kept: 1000, items: items(100) })).toBe('100 newest of 1,200 (1,000 kept)');
    expect(refusedSummary({ total: 150, kept: 150, items: items(100) })).toBe('100 newest of 150');
  });
  it('shows raw bytes as inert text', () => {
    expect(visibleRaw('{"a":1}\n\t<b>')).toBe('{"a":1}\n\t<b>');
    expect(visibleRaw('a\x00b\x1b[31m\r\x7f')).toBe('a\\x00b\\x1b[31m\\x0d\\x7f');
    expect(visibleRaw('abcdef', 4)).toBe('abcd… (2 more characters)');
  });
});
