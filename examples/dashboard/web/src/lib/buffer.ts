// Incoming WebSocket messages are pushed here (no React state update per
// message) and drained once per animation frame into one Batch. While the
// view is paused nothing is drained, so the buffer is bounded by type:
// metrics windows beyond the chart's span, and events beyond the timeline's
// length, are discarded oldest-first; alerts are upserts, so only the newest
// version of each id is kept.

import type { Alert, Hello, Metrics, SecurityEvent, StreamMessage } from '../types';

export interface Batch {
  hello: Hello | null;
  metrics: Metrics[];
  /** newest version of each alert id, in order of first arrival */
  alerts: Alert[];
  /** oldest first */
  events: SecurityEvent[];
  /** the largest "dropped" the server reported in this batch (0 if none) */
  dropped: number;
  /** messages discarded by this buffer because it was full */
  discarded: number;
  /** messages received (before coalescing) */
  received: number;
}

export interface BufferCaps {
  metrics: number;
  events: number;
  alerts: number;
}

export const DEFAULT_CAPS: BufferCaps = { metrics: 300, events: 200, alerts: 1000 };

export function emptyBatch(): Batch {
  return { hello: null, metrics: [], alerts: [], events: [], dropped: 0, discarded: 0, received: 0 };
}

export function isEmptyBatch(b: Batch): boolean {
  return b.received === 0;
}

/** Parses one WebSocket text frame; null for anything that is not a known envelope. */
export function parseMessage(raw: unknown): StreamMessage | null {
  if (typeof raw !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const m = v as { type?: unknown; data?: unknown };
  if (typeof m.type !== 'string' || !m.data || typeof m.data !== 'object') return null;
  switch (m.type) {
    case 'hello':
    case 'metrics':
    case 'alert':
    case 'event':
      return v as StreamMessage;
    default:
      return null;
  }
}

export class MessageBuffer {
  private batch: Batch = emptyBatch();
  private alertIndex = new Map<string, number>();
  private readonly caps: BufferCaps;

  constructor(caps: BufferCaps = DEFAULT_CAPS) {
    this.caps = caps;
  }

  /** Messages waiting (after coalescing). */
  get size(): number {
    const b = this.batch;
    return b.metrics.length + b.alerts.length + b.events.length + (b.hello ? 1 : 0);
  }

  push(msg: StreamMessage): void {
    const b = this.batch;
    b.received++;
    if (typeof msg.dropped === 'number' && msg.dropped > b.dropped) b.dropped = msg.dropped;
    switch (msg.type) {
      case 'hello':
        b.hello = msg.data;
        break;
      case 'metrics':
        b.metrics.push(msg.data);
        if (b.metrics.length > this.caps.metrics) {
          b.metrics.shift();
          b.discarded++;
        }
        break;
      case 'event':
        b.events.push(msg.data);
        if (b.events.length > this.caps.events) {
          b.events.shift();
          b.discarded++;
        }
        break;
      case 'alert': {
        const id = msg.data.id;
        const at = this.alertIndex.get(id);
        if (at !== undefined) {
          b.alerts[at] = msg.data; // an upsert: the older version is simply superseded
        } else if (b.alerts.length < this.caps.alerts) {
          this.alertIndex.set(id, b.alerts.length);
          b.alerts.push(msg.data);
        } else {
          b.discarded++;
        }
        break;
      }
    }
  }

  /** Takes everything buffered and empties the buffer. */
  drain(): Batch {
    const out = this.batch;
    this.batch = emptyBatch();
    this.alertIndex = new Map();
    return out;
  }
}
