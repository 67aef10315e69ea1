import { describe, expect, it } from 'vitest';
import type { ReloadResult, Rule, RuleStats } from '../types';
import { DEFAULT_RULE_SORT, nextSort, reloadSummary, sortRules } from './rules';

const stats = (s: Partial<RuleStats>): RuleStats => ({
  matched: 0,
  skipped: 0,
  detections: 0,
  fired: 0,
  updated: 0,
  resolved: 0,
  suppressed: 0,
  firing: 0,
  keys: 0,
  ...s,
});
const rule = (name: string, severity: string, s?: Partial<RuleStats>): Rule => ({
  name,
  description: '',
  type: 'count',
  severity,
  groupBy: 'userId',
  tags: [],
  riskOnly: false,
  source: 'default.yaml',
  ...(s ? { stats: stats(s) } : {}),
});

describe('rules table', () => {
  const rules = [rule('b', 'low', { fired: 3, matched: 10 }), rule('a', 'critical', { fired: 3, matched: 1 }), rule('c', 'medium', { fired: 7 }), rule('d', 'high')];
  const names = (rs: Rule[]) => rs.map((r) => r.name);

  it('sorts by alerts fired, most first, ties by name; a rule without stats counts 0', () => {
    expect(names(sortRules(rules, DEFAULT_RULE_SORT))).toEqual(['c', 'a', 'b', 'd']);
    expect(names(sortRules(rules, { key: 'fired', desc: false }))).toEqual(['d', 'a', 'b', 'c']);
  });

  it('sorts by name, severity or any counter', () => {
    expect(names(sortRules(rules, { key: 'name', desc: false }))).toEqual(['a', 'b', 'c', 'd']);
    expect(names(sortRules(rules, { key: 'severity', desc: true }))).toEqual(['a', 'd', 'c', 'b']);
    expect(names(sortRules(rules, { key: 'matched', desc: true }))).toEqual(['b', 'a', 'c', 'd']);
  });

  it('a click on a column sorts by it (numbers largest first, names A to Z), a second turns it around', () => {
    expect(nextSort(DEFAULT_RULE_SORT, 'matched')).toEqual({ key: 'matched', desc: true });
    expect(nextSort(DEFAULT_RULE_SORT, 'name')).toEqual({ key: 'name', desc: false });
    expect(nextSort(DEFAULT_RULE_SORT, 'fired')).toEqual({ key: 'fired', desc: false });
  });

  it('sums up a load', () => {
    const r: ReloadResult = {
      at: '',
      ok: true,
      error: '',
      trigger: 'api',
      files: [],
      rules: 9,
      added: ['x'],
      removed: [],
      changed: ['y', 'z'],
      unchanged: 6,
    };
    expect(reloadSummary(r)).toBe('9 rules: 1 added, 0 removed, 2 changed, 6 unchanged');
    expect(reloadSummary({ ...r, added: null, changed: null, rules: 1, unchanged: 1 })).toBe('1 rule: 0 added, 0 removed, 0 changed, 1 unchanged');
    expect(reloadSummary({ ...r, ok: false })).toBe('refused: the running rules keep running');
  });
});
