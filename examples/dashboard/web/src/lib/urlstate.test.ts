import { describe, expect, it } from 'vitest';
import { DEFAULT_VIEW, formatView, parseView, rangeLabel } from './urlstate';

describe('view state in the URL', () => {
  it('a plain URL is the default view, and the default view a plain URL', () => {
    expect(parseView('')).toEqual(DEFAULT_VIEW);
    expect(formatView(DEFAULT_VIEW)).toBe('');
  });

  it('round-trips range, pause, filter, user and alert', () => {
    const v = {
      ...DEFAULT_VIEW,
      time: { range: '1h' as const },
      live: false,
      filter: { kind: 'user' as const, value: 'bob' },
      user: 'bob',
      alert: 'brute-force/bob/1',
    };
    const s = formatView(v);
    expect(s).toBe('?range=1h&live=false&filter=bob&user=bob&alert=brute-force%2Fbob%2F1');
    expect(parseView(s)).toEqual(v);
  });

  it('an IP filter is an IP filter again', () => {
    expect(parseView('?filter=203.0.113.9').filter).toEqual({ kind: 'ip', value: '203.0.113.9' });
  });

  it('a fixed range wins over a relative one and round-trips', () => {
    const start = new Date('2026-11-26T10:00:00Z');
    const stop = new Date('2026-11-26T11:30:00Z');
    const s = formatView({ ...DEFAULT_VIEW, time: { start, stop } });
    expect(s).toBe('?from=2026-11-26T10%3A00%3A00.000Z&to=2026-11-26T11%3A30%3A00.000Z');
    expect(parseView(`${s}&range=24h`).time).toEqual({ start, stop });
    expect(rangeLabel({ start, stop })).toBe('2026-11-26 10:00 – 2026-11-26 11:30 UTC');
  });

  it('invalid values take their defaults', () => {
    expect(parseView('?range=forever&from=yesterday&to=x&live=maybe').time).toEqual({ range: '5m' });
    expect(parseView('?from=2026-11-26T11:00:00Z&to=2026-11-26T10:00:00Z').time).toEqual({ range: '5m' });
    expect(parseView('?live=maybe').live).toBe(true);
  });

  it('keeps the parameters it does not own', () => {
    expect(formatView({ ...DEFAULT_VIEW, time: { range: '24h' } }, '?debug=1&range=1h')).toBe('?debug=1&range=24h');
  });

  it('round-trips the ATT&CK filter, show silenced and the page', () => {
    const v = { ...DEFAULT_VIEW, tactic: 'credential-access', technique: 'T1110.003', silenced: true, page: 'rules' as const };
    const s = formatView(v);
    expect(s).toBe('?tactic=credential-access&technique=T1110.003&silenced=true&page=rules');
    expect(parseView(s)).toEqual(v);
    const all = { ...v, time: { range: '24h' as const }, filter: { kind: 'ip' as const, value: '203.0.113.9' }, alert: 'a/1', page: 'silences' as const };
    expect(parseView(formatView(all))).toEqual(all);
    // Each alone.
    for (const change of [{ tactic: 'persistence' }, { technique: 'T1078' }, { silenced: true }, { page: 'silences' as const }]) {
      const one = { ...DEFAULT_VIEW, ...change };
      expect(parseView(formatView(one))).toEqual(one);
    }
  });

  it('reads the ATT&CK filter in its one spelling; what is no tactic, technique or page is dropped', () => {
    expect(parseView('?technique=t1110').technique).toBe('T1110');
    expect(parseView('?tactic=Credential-Access').tactic).toBe('credential-access');
    expect(parseView('?tactic=attack.persistence').tactic).toBe('persistence');
    const bad = parseView('?technique=credential-access&tactic=t1110&silenced=yes&page=admin');
    expect(bad).toEqual(DEFAULT_VIEW);
    expect(formatView(bad)).toBe('');
  });

  it('the ATT&CK filter keeps the other parameters and is removed when cleared', () => {
    const s = formatView({ ...DEFAULT_VIEW, technique: 'T1110' }, '?debug=1&tactic=x&page=rules');
    expect(s).toBe('?debug=1&technique=T1110');
    expect(formatView(DEFAULT_VIEW, s)).toBe('?debug=1');
  });
});
