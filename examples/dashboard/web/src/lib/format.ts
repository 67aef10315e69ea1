// Number and time formatting. Pure functions: the unit tests pin them down.

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** 1234567 → "1,234,567" (integers; non-finite → "—"). */
export function formatInt(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const neg = n < 0;
  const s = Math.round(Math.abs(n)).toString();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ',';
    out += s[i];
  }
  return neg ? '-' + out : out;
}

/** Rate with one decimal below 1000, thousands separators above: 12.34 → "12.3", 12345.6 → "12,346". */
export function formatRate(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  if (Math.abs(n) >= 1000) return formatInt(n);
  return (Math.round(n * 10) / 10).toFixed(1);
}

/** Short form for tight spaces: 950 → "950", 12_300 → "12.3k", 4_500_000 → "4.5M". */
export function formatCompact(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  const sign = n < 0 ? '-' : '';
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) {
    if (a >= v) {
      const x = a / v;
      return sign + (x >= 100 ? Math.round(x).toString() : (Math.round(x * 10) / 10).toString()) + u;
    }
  }
  return sign + Math.round(a).toString();
}

/** Parses RFC 3339 or epoch milliseconds; NaN when unparsable. */
export function toMillis(t: string | number | null | undefined): number {
  if (t == null) return NaN;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  return Date.parse(t);
}

/** "HH:MM:SS" of an instant, local time by default. */
export function formatClock(t: string | number | Date, utc = false): string {
  const d = t instanceof Date ? t : new Date(toMillis(t));
  if (Number.isNaN(d.getTime())) return '—';
  return utc
    ? `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
    : `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "YYYY-MM-DD HH:MM:SS" (local by default). */
export function formatDateTime(t: string | number | Date, utc = false): string {
  const d = t instanceof Date ? t : new Date(toMillis(t));
  if (Number.isNaN(d.getTime())) return '—';
  const date = utc
    ? `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`
    : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return `${date} ${formatClock(d, utc)}`;
}

/** Milliseconds → "850ms", "4s", "1m 30s", "2h 5m", "3d 4h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** "5s ago" relative to now (both in ms). */
export function formatAgo(t: string | number, now: number): string {
  const ms = toMillis(t);
  if (Number.isNaN(ms)) return '—';
  const d = now - ms;
  if (d < 1000) return 'now';
  return `${formatDuration(d)} ago`;
}

/**
 * Parses a Go time.Duration string ("1m0s", "1h30m", "500ms", "1.5s") or a
 * plain number of seconds. Returns milliseconds, NaN if unparsable.
 */
export function parseGoDuration(s: string | null | undefined): number {
  if (s == null) return NaN;
  const str = s.trim();
  if (str === '') return NaN;
  if (/^\d+(\.\d+)?$/.test(str)) return Number(str) * 1000;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    'µs': 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
  };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(str)) !== null) {
    total += Number(m[1]) * (unit[m[2] ?? ''] ?? NaN);
    pos = re.lastIndex;
  }
  return pos === str.length ? total : NaN;
}

/** Value for <input type="datetime-local"> (local time, minute precision). */
export function toDateTimeLocal(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}
