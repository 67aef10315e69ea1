// The rules page: sorting the running rules and describing the latest load.

import type { ReloadResult, Rule, RuleStats } from '../types';

export type RuleSortKey = 'name' | 'severity' | keyof RuleStats;
export interface RuleSort {
  key: RuleSortKey;
  desc: boolean;
}

/** The default order: most alerts fired first. */
export const DEFAULT_RULE_SORT: RuleSort = { key: 'fired', desc: true };

const SEVERITY_RANK: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** The rules in the order asked for; ties by name, so the order is stable between refreshes. */
export function sortRules(rules: readonly Rule[], s: RuleSort): Rule[] {
  const value = (r: Rule): number | string => {
    if (s.key === 'name') return r.name;
    if (s.key === 'severity') return SEVERITY_RANK[r.severity] ?? -1;
    return r.stats?.[s.key] ?? 0;
  };
  return [...rules].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = typeof va === 'string' || typeof vb === 'string' ? String(va).localeCompare(String(vb)) : va - vb;
    if (c !== 0) return s.desc ? -c : c;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/** Clicking a column: sorts by it (numbers largest first), or turns its order around. */
export function nextSort(cur: RuleSort, key: RuleSortKey): RuleSort {
  if (cur.key === key) return { key, desc: !cur.desc };
  return { key, desc: key !== 'name' };
}

/** "9 rules: 1 added, 0 removed, 2 changed, 6 unchanged" — or the refusal. */
export function reloadSummary(r: ReloadResult): string {
  if (!r.ok) return 'refused: the running rules keep running';
  const n = (xs: string[] | null | undefined) => (xs ?? []).length;
  return `${r.rules} rule${r.rules === 1 ? '' : 's'}: ${n(r.added)} added, ${n(r.removed)} removed, ${n(r.changed)} changed, ${r.unchanged} unchanged`;
}
