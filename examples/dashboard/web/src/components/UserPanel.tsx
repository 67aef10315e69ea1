import { useQuery } from '../hooks/useQuery';
import { api, ApiError, timeParams } from '../lib/api';
import { formatDateTime, formatInt } from '../lib/format';
import { rangeLabel, type TimeRange } from '../lib/urlstate';
import { QueryState } from './QueryState';
import { SeverityPill } from './SeverityPill';

interface Props {
  userId: string;
  time: TimeRange;
  onClose: () => void;
}

const describe = (e: unknown) =>
  e instanceof ApiError && e.status === 404 ? 'no activity recorded for this user in this range' : String(e);

/** Side panel with one user's activity in the view's range, from GET /api/users/{id}. */
export function UserPanel({ userId, time, onClose }: Props) {
  const query = useQuery(`${userId} ${JSON.stringify(timeParams(time))}`, (signal) => api.user(userId, time, signal), {
    describe,
    refreshMs: 'range' in time ? 10_000 : undefined,
  });

  return (
    <aside className="panel user-panel" data-testid="user-panel" aria-label={`user ${userId}`}>
      <header className="panel-head">
        <h2>
          User <code>{userId}</code>
        </h2>
        <button type="button" className="btn small ghost" onClick={onClose} aria-label="close user panel">
          ×
        </button>
      </header>
      <div className="muted small">{rangeLabel(time)}</div>
      <QueryState query={query}>
        {(data) => (
        <>
          <dl className="kv">
            <dt>events</dt>
            <dd>{formatInt(data.count)}</dd>
            <dt>first seen</dt>
            <dd>{formatDateTime(data.firstSeen)}</dd>
            <dt>last seen</dt>
            <dd>{formatDateTime(data.lastSeen)}</dd>
            <dt>alerts</dt>
            <dd>{formatInt((data.alerts ?? []).length)}</dd>
          </dl>
          <ul className="user-alerts">
            {(data.alerts ?? []).slice(0, 10).map((a) => (
              <li key={a.id}>
                <SeverityPill severity={a.severity} /> {a.rule} <span className="muted">· {a.status}</span>
              </li>
            ))}
          </ul>
        </>
        )}
      </QueryState>
    </aside>
  );
}
