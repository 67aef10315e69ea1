import { memo } from 'react';
import { formatInt } from '../lib/format';
import { SEVERITIES, type Severity } from '../types';

/** One stacked bar of events by severity (over the view's range). */
export const SeverityBreakdown = memo(function SeverityBreakdown({
  bySeverity,
}: {
  bySeverity: Partial<Record<Severity, number>> | undefined;
}) {
  const counts = SEVERITIES.map((s) => [s, bySeverity?.[s] ?? 0] as const);
  const total = counts.reduce((n, [, c]) => n + c, 0);
  return (
    <div className="sevbar-wrap" data-testid="severity-breakdown">
      <div className="sevbar" aria-hidden="true">
        {total > 0 &&
          counts.map(([s, c]) =>
            c > 0 ? <span key={s} className={`sevbar-seg sev-bg-${s}`} style={{ width: `${(100 * c) / total}%` }} /> : null,
          )}
      </div>
      <div className="sevbar-legend">
        {counts.map(([s, c]) => (
          <span key={s}>
            <i className={`dot sev-bg-${s}`} /> {s} {formatInt(c)}
          </span>
        ))}
      </div>
    </div>
  );
});
