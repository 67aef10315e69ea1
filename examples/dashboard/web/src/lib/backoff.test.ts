import { describe, expect, it } from 'vitest';
import { backoffDelay, connectionStatus, DEFAULT_BACKOFF } from './backoff';

const noJitter = () => 0;

describe('backoffDelay', () => {
  it('doubles from the base up to the ceiling', () => {
    const d = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, DEFAULT_BACKOFF, noJitter));
    expect(d).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
  it('never exceeds the ceiling, even for huge attempt numbers', () => {
    expect(backoffDelay(10_000, DEFAULT_BACKOFF, noJitter)).toBe(30_000);
    expect(backoffDelay(Infinity, DEFAULT_BACKOFF, noJitter)).toBe(500);
  });
  it('applies jitter downwards only', () => {
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 1)).toBe(1500); // 2000 * (1 - 0.25)
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 0.5)).toBe(1750);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(3, DEFAULT_BACKOFF);
      expect(d).toBeGreaterThanOrEqual(3000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
  it('treats negative attempts as the first', () => {
    expect(backoffDelay(-3, DEFAULT_BACKOFF, noJitter)).toBe(500);
  });
});

describe('connectionStatus', () => {
  it('maps socket state and failures to the badge', () => {
    expect(connectionStatus(1, 0, true)).toBe('connected');
    expect(connectionStatus(1, 5, false)).toBe('connected');
    expect(connectionStatus(0, 0, true)).toBe('reconnecting');
    expect(connectionStatus(3, 2, true)).toBe('reconnecting');
    expect(connectionStatus(3, 3, true)).toBe('offline');
    expect(connectionStatus(0, 0, false)).toBe('offline');
  });
});
