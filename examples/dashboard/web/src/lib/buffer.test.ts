import { describe, expect, it } from 'vitest';
import { MessageBuffer, parseMessage } from './buffer';
import type { StreamMessage } from '../types';
import { alert, event, metrics } from './testdata';

const env = <T extends StreamMessage['type']>(type: T, data: unknown, dropped?: number): StreamMessage =>
  ({ type, ts: '2026-01-01T00:00:00Z', data, ...(dropped === undefined ? {} : { dropped }) }) as StreamMessage;

describe('parseMessage', () => {
  it('accepts the four envelope types and tolerates extra fields', () => {
    const m = parseMessage(JSON.stringify({ type: 'hello', ts: 'x', data: { clientId: 'c1', topics: [], extra: 1 } }));
    expect(m?.type).toBe('hello');
    expect(parseMessage(JSON.stringify({ type: 'event', ts: 'x', data: event('u') }))?.type).toBe('event');
  });
  it('rejects junk', () => {
    expect(parseMessage('not json')).toBeNull();
    expect(parseMessage(JSON.stringify({ type: 'bogus', data: {} }))).toBeNull();
    expect(parseMessage(JSON.stringify({ type: 'metrics' }))).toBeNull();
    expect(parseMessage(JSON.stringify(42))).toBeNull();
    expect(parseMessage(new ArrayBuffer(2))).toBeNull();
  });
});

describe('MessageBuffer', () => {
  it('collects messages by type and drains once', () => {
    const b = new MessageBuffer();
    b.push(env('hello', { clientId: 'c', topics: [] }));
    b.push(env('metrics', metrics(1)));
    b.push(env('event', event('a')));
    b.push(env('event', event('b')));
    b.push(env('alert', alert('x')));
    expect(b.size).toBe(5);
    const out = b.drain();
    expect(out.received).toBe(5);
    expect(out.hello?.clientId).toBe('c');
    expect(out.metrics).toHaveLength(1);
    expect(out.events.map((e) => e.userId)).toEqual(['a', 'b']);
    expect(out.alerts.map((a) => a.id)).toEqual(['x']);
    expect(b.size).toBe(0);
    expect(b.drain().received).toBe(0);
  });

  it('keeps only the newest version of each alert id, in first-arrival order', () => {
    const b = new MessageBuffer();
    b.push(env('alert', alert('x', { count: 1 })));
    b.push(env('alert', alert('y')));
    b.push(env('alert', alert('x', { count: 9, status: 'resolved' })));
    const out = b.drain();
    expect(out.alerts.map((a) => [a.id, a.count, a.status])).toEqual([
      ['x', 9, 'resolved'],
      ['y', 5, 'firing'],
    ]);
    expect(out.discarded).toBe(0);
    // the index is reset with the drain
    b.push(env('alert', alert('x', { count: 3 })));
    expect(b.drain().alerts.map((a) => a.count)).toEqual([3]);
  });

  it('is bounded while nobody drains (paused) and counts what it discarded', () => {
    const b = new MessageBuffer({ metrics: 3, events: 2, alerts: 2 });
    for (let i = 1; i <= 10; i++) b.push(env('metrics', metrics(i)));
    for (let i = 0; i < 5; i++) b.push(env('event', event('u' + i)));
    b.push(env('alert', alert('a')));
    b.push(env('alert', alert('b')));
    b.push(env('alert', alert('c'))); // over the cap: discarded
    expect(b.size).toBe(3 + 2 + 2);
    const out = b.drain();
    expect(out.metrics.map((m) => m.totalEvents)).toEqual([80, 90, 100]);
    expect(out.events.map((e) => e.userId)).toEqual(['u3', 'u4']);
    expect(out.alerts.map((a) => a.id)).toEqual(['a', 'b']);
    expect(out.discarded).toBe(7 + 3 + 1);
    expect(out.received).toBe(18);
  });

  it('reports the largest server-side dropped count', () => {
    const b = new MessageBuffer();
    b.push(env('event', event('a'), 3));
    b.push(env('event', event('a'), 7));
    b.push(env('event', event('a')));
    expect(b.drain().dropped).toBe(7);
  });
});
