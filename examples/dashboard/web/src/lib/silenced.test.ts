import { describe, expect, it } from 'vitest';
import type { Alert } from '../types';
import { mergeSilenced } from './state';

const alert = (id: string, lastSeen: string, more: Partial<Alert> = {}): Alert => ({
  id,
  rule: 'failed-login-burst',
  key: id,
  severity: 'medium',
  riskScore: 10,
  status: 'firing',
  firstSeen: '2026-12-02T12:00:00Z',
  lastSeen,
  count: 5,
  value: 5,
  threshold: 5,
  message: '',
  acked: false,
  ...more,
});

describe('silenced alerts merged into the live ones', () => {
  it('adds the silenced alerts the stream never sent', () => {
    const live = [alert('a', '2026-12-02T12:01:00Z')];
    const out = mergeSilenced(live, [alert('s', '2026-12-02T12:02:00Z', { silencedBy: 'sil-1' })]);
    expect(out.map((a) => [a.id, a.silencedBy ?? null])).toEqual([
      ['s', 'sil-1'],
      ['a', null],
    ]);
  });

  it("the server's copy marks an alert the stream showed before it was silenced, keeping the acknowledgement", () => {
    const live = [alert('a', '2026-12-02T12:01:00Z', { acked: true })];
    const out = mergeSilenced(live, [alert('a', '2026-12-02T12:03:00Z', { silencedBy: 'sil-1', count: 9 })]);
    expect(out).toEqual([alert('a', '2026-12-02T12:03:00Z', { silencedBy: 'sil-1', count: 9, acked: true })]);
  });

  it('a later emission on the stream (the silence ended) wins over the list', () => {
    const live = [alert('a', '2026-12-02T12:05:00Z')];
    const out = mergeSilenced(live, [alert('a', '2026-12-02T12:03:00Z', { silencedBy: 'sil-1' })]);
    expect(out).toEqual(live);
  });

  it('no list: the live alerts, sorted', () => {
    const live = [alert('old', '2026-12-02T12:01:00Z'), alert('new', '2026-12-02T12:02:00Z')];
    expect(mergeSilenced(live, null).map((a) => a.id)).toEqual(['new', 'old']);
    expect(mergeSilenced(live, []).map((a) => a.id)).toEqual(['new', 'old']);
  });
});
