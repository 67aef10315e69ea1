// ATT&CK tags on alerts, as Sigma rules write them: tactics
// (attack.credential-access) and techniques (attack.t1110, attack.t1110.003).
// Any other tag (cve.2021-44228, attack.g0016 …) is shown as it is.

const PREFIX = 'attack.';
const techniqueRE = /^attack\.t(\d+)(?:\.(\d+))?$/i;
/** a technique ID as the filter takes it: T1110, T1110.003 */
const techniqueIdRE = /^T\d+(?:\.\d+)?$/i;

/** The technique ID of one tag ("T1110.003"), or null when it is no technique. */
export function techniqueOf(tag: string): string | null {
  const m = techniqueRE.exec(tag);
  if (!m) return null;
  return m[2] !== undefined ? `T${m[1]}.${m[2]}` : `T${m[1]}`;
}

/** The tactic of one tag ("credential-access"), or null when it is no tactic. */
export function tacticOf(tag: string): string | null {
  const lower = tag.toLowerCase();
  if (!lower.startsWith(PREFIX) || lower.length === PREFIX.length || techniqueRE.test(lower)) return null;
  return lower.slice(PREFIX.length);
}

const uniq = (xs: string[]): string[] => [...new Set(xs)];

/** The technique IDs of tags, in tag order, e.g. ["T1110", "T1110.003"]. */
export function techniquesOf(tags: readonly string[] | null | undefined): string[] {
  return uniq((tags ?? []).map(techniqueOf).filter((t): t is string => t !== null));
}

/** The tactics of tags, in tag order, e.g. ["credential-access"]. */
export function tacticsOf(tags: readonly string[] | null | undefined): string[] {
  return uniq((tags ?? []).map(tacticOf).filter((t): t is string => t !== null));
}

/** The tags that are neither a tactic nor a technique. */
export function otherTags(tags: readonly string[] | null | undefined): string[] {
  return (tags ?? []).filter((t) => tacticOf(t) === null && techniqueOf(t) === null);
}

/** A technique filter's value in its one spelling (T1110.003), or null when it is none. */
export function normalizeTechnique(v: string | null | undefined): string | null {
  const s = (v ?? '').trim();
  return techniqueIdRE.test(s) ? s.toUpperCase() : null;
}

/** A tactic filter's value in its one spelling (lower case, no "attack."), or null when it is none. */
export function normalizeTactic(v: string | null | undefined): string | null {
  const s = (v ?? '').trim().toLowerCase();
  if (!s) return null;
  return tacticOf(s.startsWith(PREFIX) ? s : PREFIX + s);
}

/** Whether technique id (T1110.003) is want (T1110.003) or one of want's sub-techniques (want T1110). */
export function techniqueMatches(id: string, want: string): boolean {
  const a = id.toUpperCase();
  const w = want.toUpperCase();
  return a === w || a.startsWith(`${w}.`);
}

/**
 * Whether tags pass a tactic and a technique filter (null: any). A
 * technique filter T1110 also takes its sub-techniques (T1110.003); a
 * sub-technique filter takes only itself.
 */
export function matchesAttack(tags: readonly string[] | null | undefined, tactic: string | null, technique: string | null): boolean {
  if (tactic && !tacticsOf(tags).includes(tactic.toLowerCase())) return false;
  if (technique && !techniquesOf(tags).some((t) => techniqueMatches(t, technique))) return false;
  return true;
}

const byTechnique = (a: string, b: string): number => {
  const [ma = 0, sa = -1] = a.slice(1).split('.').map(Number);
  const [mb = 0, sb = -1] = b.slice(1).split('.').map(Number);
  return ma - mb || sa - sb;
};

/**
 * The distinct tactics and techniques of alerts, sorted, for the filter's
 * options. A sub-technique brings its parent (T1110.003 → T1110 too), so
 * that all of a technique's alerts can be picked at once.
 */
export function attackOptions(all: readonly { tags?: string[] | null }[]): { tactics: string[]; techniques: string[] } {
  const tactics = new Set<string>();
  const techniques = new Set<string>();
  for (const a of all) {
    for (const t of tacticsOf(a.tags)) tactics.add(t);
    for (const t of techniquesOf(a.tags)) {
      techniques.add(t);
      techniques.add(t.split('.')[0] as string);
    }
  }
  return { tactics: [...tactics].sort(), techniques: [...techniques].sort(byTechnique) };
}
