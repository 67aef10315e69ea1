// The silence form: its state, its check, and the POST /api/silences body
// it makes. The server checks again (regular expressions, times) and its
// error text is shown as it is.

import type { Silence, SilenceMatcher, SilenceMatcherName, SilenceMatcherOp, SilenceRequest } from '../types';
import { parseGoDuration } from './format';

/** The duration picker's presets; "custom" takes a duration typed in. */
export const SILENCE_DURATIONS = ['1h', '2h', '8h', '24h'] as const;
export type SilenceDurationChoice = (typeof SILENCE_DURATIONS)[number] | 'custom';

export interface MatcherDraft {
  name: SilenceMatcherName;
  op: SilenceMatcherOp;
  value: string;
}

export interface SilenceForm {
  matchers: MatcherDraft[];
  duration: SilenceDurationChoice;
  /** with duration "custom": "90m", "3d", "1d12h" */
  customDuration: string;
  /** a datetime-local value (the browser's time zone); "" starts now */
  startsAt: string;
  createdBy: string;
  comment: string;
}

/** An empty form, or one prefilled for an alert's rule and key ("Silence…" on a row). */
export function silenceForm(prefill?: { rule?: string; key?: string }, createdBy = ''): SilenceForm {
  const matchers: MatcherDraft[] = [];
  if (prefill?.rule) matchers.push({ name: 'rule', op: '=', value: prefill.rule });
  if (prefill?.key) matchers.push({ name: 'key', op: '=', value: prefill.key });
  if (matchers.length === 0) matchers.push({ name: 'rule', op: '=', value: '' });
  return { matchers, duration: '2h', customDuration: '', startsAt: '', createdBy, comment: '' };
}

// rdr's duration syntax (rdr.ParseDuration): whole days first, then Go's.
const DURATION_RE = /^(\d+d)?((\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h))*$/;

/** Whether s is a positive duration the server reads ("30m", "1.5h", "1d12h"). */
export function validDuration(s: string): boolean {
  const t = s.trim();
  if (!t || !DURATION_RE.test(t)) return false;
  const ms = parseGoDuration(t);
  return Number.isFinite(ms) && ms > 0;
}

const POSITIVE: readonly SilenceMatcherOp[] = ['=', '=~'];

export type SilenceBody = { body: SilenceRequest; error?: undefined } | { error: string; body?: undefined };

/**
 * The POST /api/silences body for a form, or the first thing wrong with it,
 * in the words the form shows. Values are sent as typed (a key may have
 * spaces); author and comment are trimmed.
 */
export function silenceBody(form: SilenceForm): SilenceBody {
  if (form.matchers.length === 0) return { error: 'add a matcher: a silence needs at least one' };
  const matchers: SilenceMatcher[] = [];
  for (const [i, m] of form.matchers.entries()) {
    if (m.value === '' && POSITIVE.includes(m.op)) return { error: `matcher ${i + 1} (${m.name} ${m.op}): give a value` };
    matchers.push({ name: m.name, op: m.op, value: m.value });
  }
  if (!matchers.some((m) => POSITIVE.includes(m.op) && m.value !== '')) {
    return { error: 'one matcher at least must be = or =~ with a value: negative matchers alone would silence almost every alert' };
  }
  const body: SilenceRequest = { matchers, createdBy: form.createdBy.trim(), comment: form.comment.trim() };
  if (form.duration === 'custom') {
    if (!validDuration(form.customDuration)) return { error: `duration: "${form.customDuration.trim()}" is not a duration like 30m, 4h or 3d` };
    body.duration = form.customDuration.trim();
  } else {
    body.duration = form.duration;
  }
  if (form.startsAt.trim()) {
    const d = new Date(form.startsAt);
    if (Number.isNaN(d.getTime())) return { error: `starts at: "${form.startsAt}" is not a time` };
    body.startsAt = d.toISOString();
  }
  if (!body.createdBy) return { error: 'author: say who makes the silence' };
  if (!body.comment) return { error: 'comment: say why the alerts are silenced' };
  return { body };
}

/** A matcher as amtool writes it: rule="failed-login-burst". */
export function formatMatcher(m: SilenceMatcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

/** Counts of silences by state. */
export function silenceCounts(list: readonly Silence[]): Record<Silence['state'], number> {
  const out = { active: 0, pending: 0, expired: 0 };
  for (const s of list) if (s.state in out) out[s.state] += 1;
  return out;
}
