// "Click a user or IP anywhere": one active filter narrows the timeline and the alerts.

import type { Alert, SecurityEvent } from '../types';

export interface Filter {
  kind: 'user' | 'ip';
  value: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Rough IP check, good enough to decide whether an alert key is an address. */
export function looksLikeIp(s: string): boolean {
  const m = IPV4.exec(s);
  if (m) return m.slice(1).every((x) => Number(x) <= 255);
  return s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && s.split(':').length >= 3;
}

export function filterFor(value: string): Filter {
  return { kind: looksLikeIp(value) ? 'ip' : 'user', value };
}

export function matchesEvent(e: SecurityEvent, f: Filter | null): boolean {
  if (!f) return true;
  return f.kind === 'user' ? e.userId === f.value : e.ipAddress === f.value;
}

/** Alert keys may be composite ("u-1|10.0.0.1", "ip=…"); match whole tokens. */
function keyHas(key: string, value: string): boolean {
  if (key === value) return true;
  return key.split(/[|,;\s=/]+/).includes(value);
}

export function matchesAlert(a: Alert, f: Filter | null): boolean {
  if (!f) return true;
  if (keyHas(a.key ?? '', f.value)) return true;
  return (a.events ?? []).some((e) => matchesEvent(e, f));
}
