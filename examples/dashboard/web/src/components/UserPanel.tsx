import { useEffect, useState } from 'react';
import { api, ApiError } from '../lib/api';
import { formatDateTime, formatInt } from '../lib/format';
import type { UserActivity } from '../types';
import { SeverityPill } from './SeverityPill';

interface Props {
  userId: string;
  onClose: () => void;
}

/** Side panel with one user's activity from GET /api/users/{id}. */
export function UserPanel({ userId, onClose }: Props) {
  const [data, setData] = useState<UserActivity | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const ctl = new AbortController();
    setData(null);
    setError(null);
    api.user(userId, ctl.signal).then(
      (u) => setData(u),
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setError(e instanceof ApiError && e.status === 404 ? 'no activity recorded for this user' : String(e));
      },
    );
    return () => ctl.abort();
  }, [userId]);

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
      {error ? (
        <div className="empty">{error}</div>
      ) : !data ? (
        <div className="empty">loading…</div>
      ) : (
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
    </aside>
  );
}
