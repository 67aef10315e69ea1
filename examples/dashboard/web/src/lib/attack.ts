// ATT&CK tags on alerts: tactics (attack.credential-access) and
// techniques (attack.t1110, attack.t1110.003), as Sigma rules write them.

const techniqueRE = /^attack\.t(\d{4})(?:\.(\d{3}))?$/i;

/** The technique IDs of tags, e.g. ["T1110", "T1110.003"]. */
export function techniquesOf(tags: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const t of tags ?? []) {
    const m = techniqueRE.exec(t);
    if (m) out.push(m[2] ? `T${m[1]}.${m[2]}` : `T${m[1]}`);
  }
  return out;
}

/** The tactics of tags, e.g. ["credential-access"]. */
export function tacticsOf(tags: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const t of tags ?? []) {
    const lower = t.toLowerCase();
    if (lower.startsWith('attack.') && !techniqueRE.test(lower) && lower.length > 'attack.'.length) {
      out.push(lower.slice('attack.'.length));
    }
  }
  return out;
}

/**
 * Whether tags pass a tactic and a technique filter (null: any). A
 * technique filter T1110 also takes its sub-techniques (T1110.003).
 */
export function matchesAttack(tags: readonly string[] | undefined, tactic: string | null, technique: string | null): boolean {
  if (tactic && !tacticsOf(tags).includes(tactic)) return false;
  if (technique) {
    const want = technique.toUpperCase();
    if (!techniquesOf(tags).some((t) => t === want || t.startsWith(`${want}.`))) return false;
  }
  return true;
}

/** The distinct tactics and techniques of alerts, sorted, for the filter's options. */
export function attackOptions(all: readonly { tags?: string[] }[]): { tactics: string[]; techniques: string[] } {
  const tactics = new Set<string>();
  const techniques = new Set<string>();
  for (const a of all) {
    for (const t of tacticsOf(a.tags)) tactics.add(t);
    for (const t of techniquesOf(a.tags)) {
      techniques.add(t);
      techniques.add(t.split('.')[0] as string);
    }
  }
  return { tactics: [...tactics].sort(), techniques: [...techniques].sort() };
}
