import { memo } from 'react';
import { formatInt } from '../lib/format';
import type { KeyCount } from '../types';

interface Props {
  title: string;
  items: KeyCount[] | null | undefined;
  /** makes keys clickable (users, IPs) */
  onPick?: (key: string) => void;
  active?: string | null;
  testId: string;
  max?: number;
  /** the range the counts cover, e.g. "last 5m" */
  span: string;
}

/** Ranked keys with a proportional bar (top event types, users, IPs over the view's range). */
export const TopList = memo(function TopList({ title, items, onPick, active, testId, max = 10, span }: Props) {
  const rows = (items ?? []).slice(0, max);
  const top = rows.reduce((m, r) => Math.max(m, r.count), 0) || 1;
  return (
    <section className="panel" data-testid={testId}>
      <header className="panel-head">
        <h2>{title}</h2>
        <span className="muted">{span}</span>
      </header>
      {rows.length === 0 ? (
        <div className="empty">no data yet</div>
      ) : (
        <ol className="toplist">
          {rows.map((r) => (
            <li key={r.key} className={active === r.key ? 'active' : undefined}>
              <span className="bar" style={{ width: `${(100 * r.count) / top}%` }} aria-hidden="true" />
              {onPick ? (
                <button type="button" className="linklike key" onClick={() => onPick(r.key)} title={`filter by ${r.key}`}>
                  {r.key}
                </button>
              ) : (
                <span className="key">{r.key}</span>
              )}
              <span className="count">{formatInt(r.count)}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
});
