import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatClock,
  formatCompact,
  formatDateTime,
  formatDuration,
  formatInt,
  formatRate,
  parseGoDuration,
  toMillis,
} from './format';

describe('formatInt', () => {
  it('groups thousands', () => {
    expect(formatInt(0)).toBe('0');
    expect(formatInt(999)).toBe('999');
    expect(formatInt(1000)).toBe('1,000');
    expect(formatInt(1234567)).toBe('1,234,567');
    expect(formatInt(-45678.4)).toBe('-45,678');
  });
  it('shows a dash for missing values', () => {
    expect(formatInt(null)).toBe('—');
    expect(formatInt(undefined)).toBe('—');
    expect(formatInt(NaN)).toBe('—');
    expect(formatInt(Infinity)).toBe('—');
  });
});

describe('formatRate', () => {
  it('keeps one decimal below 1000', () => {
    expect(formatRate(0)).toBe('0.0');
    expect(formatRate(12.34)).toBe('12.3');
    expect(formatRate(12.35)).toBe('12.4');
    expect(formatRate(999.94)).toBe('999.9');
  });
  it('drops decimals above 1000', () => {
    expect(formatRate(12345.6)).toBe('12,346');
  });
});

describe('formatCompact', () => {
  it('uses k/M/G', () => {
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(12_300)).toBe('12.3k');
    expect(formatCompact(4_500_000)).toBe('4.5M');
    expect(formatCompact(250_000)).toBe('250k');
    expect(formatCompact(3e9)).toBe('3G');
    expect(formatCompact(-1500)).toBe('-1.5k');
  });
});

describe('time', () => {
  it('parses RFC 3339 and epoch millis', () => {
    expect(toMillis('2026-11-26T10:00:00.123Z')).toBe(Date.UTC(2026, 10, 26, 10, 0, 0, 123));
    expect(toMillis('1700000000000')).toBe(1700000000000);
    expect(toMillis(5)).toBe(5);
    expect(toMillis('nope')).toBeNaN();
    expect(toMillis(null)).toBeNaN();
  });
  it('formats clock and date in UTC', () => {
    expect(formatClock('2026-11-26T09:05:03Z', true)).toBe('09:05:03');
    expect(formatDateTime('2026-01-02T03:04:05Z', true)).toBe('2026-01-02 03:04:05');
    expect(formatClock('garbage', true)).toBe('—');
  });
  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4_000)).toBe('4s');
    expect(formatDuration(90_000)).toBe('1m 30s');
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(2 * 3600_000 + 5 * 60_000)).toBe('2h 5m');
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe('3d 4h');
    expect(formatDuration(-5)).toBe('0ms');
  });
  it('formats relative times', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 10);
    expect(formatAgo('2026-01-01T00:00:10Z', now)).toBe('now');
    expect(formatAgo('2026-01-01T00:00:05Z', now)).toBe('5s ago');
  });
  it('parses Go durations', () => {
    expect(parseGoDuration('1m0s')).toBe(60_000);
    expect(parseGoDuration('1m')).toBe(60_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('10')).toBe(10_000);
    expect(parseGoDuration('')).toBeNaN();
    expect(parseGoDuration('1x')).toBeNaN();
    expect(parseGoDuration(null)).toBeNaN();
  });
});
