// GET /api/health, /api/deadletters and /api/late: defensive parsing of the
// replies and the text the header shows for them. Pure functions.

import type { Health, RefusedItem, RefusedList, SinkHealth } from '../types';
import { formatDuration, formatInt, toMillis } from './format';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);

function parseSink(v: unknown): SinkHealth | null {
  const s = obj(v);
  if (!s) return null;
  const oldest = str(s.oldestUnwritten);
  return {
    name: str(s.name) || 'sink',
    degraded: s.degraded === true,
    pending: count(s.pending) ?? 0,
    retries: count(s.retries) ?? 0,
    blocked: count(s.blocked) ?? 0,
    failed: count(s.failed) ?? 0,
    oldestUnwritten: oldest || null,
    lastError: str(s.lastError),
  };
}

/** The health reply, or null when it is not an object (keep the last one). */
export function parseHealth(raw: unknown): Health | null {
  const r = obj(raw);
  if (!r) return null;
  const sinks = (Array.isArray(r.sinks) ? r.sinks : []).map(parseSink).filter((s): s is SinkHealth => s !== null);
  return {
    degraded: typeof r.degraded === 'boolean' ? r.degraded : sinks.some((s) => s.degraded),
    sinks,
    deadLetters: count(r.deadLetters),
    late: count(r.late),
  };
}

function parseItem(v: unknown): RefusedItem | null {
  const it = obj(v);
  if (!it) return null;
  const raw = it.raw;
  return {
    recorded: str(it.recorded),
    reason: str(it.reason),
    field: str(it.field),
    sourceTopic: str(it.sourceTopic),
    partition: count(it.partition),
    offset: count(it.offset),
    item: count(it.item),
    window: str(it.window),
    // Documented as a string; show anything else as JSON rather than lose it.
    raw: typeof raw === 'string' ? raw : raw == null ? '' : JSON.stringify(raw),
  };
}

/** A dead-letter or late reply; missing parts become empty. */
export function parseRefused(raw: unknown): RefusedList {
  const r = obj(raw) ?? {};
  const items = (Array.isArray(r.items) ? r.items : []).map(parseItem).filter((i): i is RefusedItem => i !== null);
  const kept = count(r.kept) ?? items.length;
  return { total: Math.max(count(r.total) ?? kept, kept), kept, items };
}

/** "security-events/0@5 #3": topic, then partition, offset and item as far as known. */
export function formatSource(i: Pick<RefusedItem, 'sourceTopic' | 'partition' | 'offset' | 'item'>): string {
  let s = i.sourceTopic;
  if (i.partition != null) s += `/${i.partition}`;
  if (i.offset != null) s += `@${i.offset}`;
  if (i.item != null) s += ` #${i.item}`;
  return s.trim() || '—';
}

const plural = (n: number, one: string, many: string): string => `${formatInt(n)} ${n === 1 ? one : many}`;

/** "influxdb: 1,234 points pending, oldest 42s ago, 7 retries, last error: …" */
export function sinkSummary(s: SinkHealth, now: number): string {
  const parts = [plural(s.pending, 'point', 'points') + ' pending'];
  const oldest = toMillis(s.oldestUnwritten);
  if (!Number.isNaN(oldest)) parts.push(`oldest ${formatDuration(now - oldest)} ago`);
  if (s.retries > 0) parts.push(plural(s.retries, 'retry', 'retries'));
  if (s.blocked > 0) parts.push(`${formatInt(s.blocked)} blocked`);
  if (s.failed > 0) parts.push(`${formatInt(s.failed)} failed`);
  if (s.lastError) parts.push(`last error: ${s.lastError}`);
  return `${s.name}: ${parts.join(', ')}`;
}

/** Tooltip of the degraded badge: one line per degraded sink. */
export function degradedTitle(h: Health, now: number): string {
  const lines = h.sinks.filter((s) => s.degraded).map((s) => sinkSummary(s, now));
  return lines.length > 0 ? lines.join('\n') : 'the server reports itself degraded';
}

/** "10 newest of 12 (10 kept)" for a panel head. */
export function refusedSummary(l: RefusedList): string {
  if (l.total === 0) return 'none since start';
  if (l.items.length === l.total) return `all ${formatInt(l.total)}`;
  const shown = `${formatInt(l.items.length)} newest of ${formatInt(l.total)}`;
  return l.kept < l.total ? `${shown} (${formatInt(l.kept)} kept)` : shown;
}

/**
 * Raw bytes for a text block: control characters other than newline and tab
 * become \xNN, and past max characters the rest is only counted.
 */
export function visibleRaw(s: string, max = 4000): string {
  const esc = (t: string) => t.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (s.length <= max) return esc(s);
  return `${esc(s.slice(0, max))}… (${formatInt(s.length - max)} more characters)`;
}
