import { describe, expect, it } from 'vitest';
import { reloadOutcome } from './api';
import { formatMatcher, silenceBody, silenceCounts, silenceForm, validDuration, type SilenceForm } from './silence';

const form = (change: Partial<SilenceForm> = {}): SilenceForm => ({
  ...silenceForm({ rule: 'failed-login-burst', key: 'alice' }, 'ann'),
  comment: 'pen test, TICKET-42',
  ...change,
});

describe('silence form', () => {
  it('"Silence…" on an alert prefills rule= and key=; a blank form has one empty rule matcher', () => {
    expect(silenceForm({ rule: 'failed-login-burst', key: 'alice' })).toEqual({
      matchers: [
        { name: 'rule', op: '=', value: 'failed-login-burst' },
        { name: 'key', op: '=', value: 'alice' },
      ],
      duration: '2h',
      customDuration: '',
      startsAt: '',
      createdBy: '',
      comment: '',
    });
    expect(silenceForm(undefined, 'ann').matchers).toEqual([{ name: 'rule', op: '=', value: '' }]);
    expect(silenceForm(undefined, 'ann').createdBy).toBe('ann');
  });

  it('makes the POST /api/silences body: matchers as typed, a preset duration, author and comment trimmed', () => {
    expect(silenceBody(form({ createdBy: ' ann ', comment: ' pen test ' }))).toEqual({
      body: {
        matchers: [
          { name: 'rule', op: '=', value: 'failed-login-burst' },
          { name: 'key', op: '=', value: 'alice' },
        ],
        duration: '2h',
        createdBy: 'ann',
        comment: 'pen test',
      },
    });
    for (const d of ['1h', '8h', '24h'] as const) expect(silenceBody(form({ duration: d })).body?.duration).toBe(d);
  });

  it('a custom duration in rdr syntax, and a start time in RFC 3339', () => {
    expect(silenceBody(form({ duration: 'custom', customDuration: ' 1d12h ' })).body?.duration).toBe('1d12h');
    expect(silenceBody(form({ duration: 'custom', customDuration: '90m' })).body?.duration).toBe('90m');
    expect(silenceBody(form({ duration: 'custom', customDuration: 'soon' })).error).toBe(
      'duration: "soon" is not a duration like 30m, 4h or 3d',
    );
    expect(silenceBody(form({ duration: 'custom', customDuration: '' })).error).toBe('duration: "" is not a duration like 30m, 4h or 3d');
    const starts = '2026-12-02T14:30';
    expect(silenceBody(form({ startsAt: starts })).body?.startsAt).toBe(new Date(starts).toISOString());
    expect(silenceBody(form()).body).not.toHaveProperty('startsAt');
    expect(silenceBody(form({ startsAt: 'tomorrow' })).error).toBe('starts at: "tomorrow" is not a time');
  });

  it('other matchers: every name and operator, negative ones with a positive one', () => {
    const b = silenceBody(
      form({
        matchers: [
          { name: 'tag', op: '=~', value: 'attack\\.t1110(\\..*)?' },
          { name: 'severity', op: '!=', value: 'critical' },
          { name: 'groupBy', op: '!~', value: '' },
        ],
      }),
    );
    expect(b.body?.matchers).toEqual([
      { name: 'tag', op: '=~', value: 'attack\\.t1110(\\..*)?' },
      { name: 'severity', op: '!=', value: 'critical' },
      { name: 'groupBy', op: '!~', value: '' },
    ]);
    // A value is sent as typed: keys may have spaces.
    expect(silenceBody(form({ matchers: [{ name: 'key', op: '=', value: ' a b ' }] })).body?.matchers[0]?.value).toBe(' a b ');
  });

  it('names the first thing wrong', () => {
    expect(silenceBody(form({ matchers: [] })).error).toBe('add a matcher: a silence needs at least one');
    expect(silenceBody(form({ matchers: [{ name: 'rule', op: '=', value: '' }] })).error).toBe('matcher 1 (rule =): give a value');
    expect(
      silenceBody(form({ matchers: [{ name: 'rule', op: '=', value: 'x' }, { name: 'key', op: '=~', value: '' }] })).error,
    ).toBe('matcher 2 (key =~): give a value');
    expect(silenceBody(form({ matchers: [{ name: 'severity', op: '!=', value: 'low' }] })).error).toBe(
      'one matcher at least must be = or =~ with a value: negative matchers alone would silence almost every alert',
    );
    expect(silenceBody(form({ createdBy: '  ' })).error).toBe('author: say who makes the silence');
    expect(silenceBody(form({ comment: '' })).error).toBe('comment: say why the alerts are silenced');
  });

  it('reads durations as the server does', () => {
    for (const d of ['30m', '1.5h', '2h45m', '7d', '1d12h', '20d5m', '500ms']) expect(validDuration(d), d).toBe(true);
    for (const d of ['', '0s', '0d', '30', '-1h', '1h1d', '1.5d', 'd', 'h', '2 h']) expect(validDuration(d), d).toBe(false);
  });

  it('writes matchers as amtool does, and counts silences by state', () => {
    expect(formatMatcher({ name: 'key', op: '=~', value: 'al"ice' })).toBe('key=~"al\\"ice"');
    const s = (state: 'active' | 'pending' | 'expired') => ({
      id: state,
      matchers: [],
      startsAt: '',
      endsAt: '',
      createdBy: '',
      comment: '',
      createdAt: '',
      state,
    });
    expect(silenceCounts([s('active'), s('expired'), s('expired'), s('pending')])).toEqual({ active: 1, pending: 1, expired: 2 });
  });
});

describe('POST /api/rules/reload reply', () => {
  const reload = {
    at: '2026-12-02T12:00:00Z',
    ok: true,
    error: '',
    trigger: 'api',
    files: ['a.yaml'],
    rules: 9,
    added: ['x'],
    removed: [],
    changed: ['y'],
    unchanged: 7,
  };
  it('200: the new set and its rules', () => {
    expect(reloadOutcome(200, { reload, rules: [{ name: 'x' }] })).toEqual({ reload, rules: [{ name: 'x' }] });
  });
  it('422: refused, the error verbatim, no rules (the running set keeps running)', () => {
    const refused = { ...reload, ok: false, error: 'a.yaml:3: rule "x": unknown type "cnt"', added: [], changed: [], unchanged: 0 };
    expect(reloadOutcome(422, { error: refused.error, reload: refused })).toEqual({ reload: refused, rules: null });
    // The top-level error fills a reload without one.
    expect(reloadOutcome(422, { error: 'boom', reload: { ...refused, error: '' } })?.reload.error).toBe('boom');
  });
  it('anything else is no reload result', () => {
    expect(reloadOutcome(401, { error: 'unauthorized' })).toBeNull();
    expect(reloadOutcome(422, { error: 'no reload object' })).toBeNull();
    expect(reloadOutcome(200, null)).toBeNull();
  });
});
