import { degradedTitle } from '../lib/health';
import type { Health } from '../types';

/** Shown while GET /api/health says degraded; the title names each degraded sink. */
export function DegradedBadge({ health, now }: { health: Health | null; now: number }) {
  if (!health?.degraded) return null;
  return (
    <span className="badge degraded" data-testid="degraded-badge" role="status" title={degradedTitle(health, now)}>
      <i className="dot" aria-hidden="true" />
      degraded
    </span>
  );
}
