import { useEffect, useRef } from 'react';
import { useQuery } from '../hooks/useQuery';
import { api } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { formatSource, refusedSummary, visibleRaw } from '../lib/health';
import type { RefusedKind, RefusedList } from '../types';

const TITLES: Record<RefusedKind, string> = { deadletters: 'Dead letters', late: 'Late events' };
const HINTS: Record<RefusedKind, string> = {
  deadletters: 'records the pipeline refused, newest first',
  late: 'events that arrived after their window had closed, newest first',
};

interface Props {
  kind: RefusedKind;
  /** the count from /api/health: the list reloads when it moves */
  count: number | null;
  onClose: () => void;
}

/** Drawer with the newest items of GET /api/deadletters or /api/late. Escape, × or the backdrop close it. */
export function RefusedPanel({ kind, count, onClose }: Props) {
  // Reloads when the count moves, showing the last list meanwhile.
  const query = useQuery<RefusedList>(`${kind} ${count}`, (signal) => api.refused(kind, 100, signal), { keepPrevious: true });
  const { data, error } = query;
  const closeRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const back = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      back?.focus();
    };
  }, [onClose]);

  return (
    <>
      <div className="drawer-backdrop" onClick={onClose} aria-hidden="true" />
      <aside
        className="panel drawer"
        role="dialog"
        aria-modal="true"
        aria-labelledby="refused-title"
        data-testid="refused-panel"
        data-kind={kind}
      >
        <header className="panel-head">
          <h2 id="refused-title">{TITLES[kind]}</h2>
          <span className="muted">{data ? refusedSummary(data) : ''}</span>
          <button
            ref={closeRef}
            type="button"
            className="btn small ghost"
            onClick={onClose}
            aria-label="close"
            data-testid="refused-close"
          >
            ×
          </button>
        </header>
        <div className="muted small">{HINTS[kind]}</div>
        {error ? <div className={data ? 'muted small' : 'empty error'}>{error}</div> : null}
        {!data ? (
          error ? null : <div className="empty">loading…</div>
        ) : data.items.length === 0 ? (
          <div className="empty">nothing recorded</div>
        ) : (
          <ol className="refused-list">
            {data.items.map((it, i) => (
              <li key={i} className="refused-item" data-testid="refused-item">
                <div className="refused-meta">
                  <time dateTime={it.recorded}>{formatDateTime(it.recorded)}</time>
                  <span className="key" title="source: topic/partition@offset #item">
                    {formatSource(it)}
                  </span>
                  {it.field ? (
                    <span>
                      field <code>{it.field}</code>
                    </span>
                  ) : null}
                  {it.window ? <span>window {formatDateTime(it.window)}</span> : null}
                </div>
                <div className="refused-reason" data-testid="refused-reason">
                  {it.reason || '—'}
                </div>
                {it.raw ? (
                  <pre className="raw" data-testid="refused-raw">
                    {visibleRaw(it.raw)}
                  </pre>
                ) : null}
              </li>
            ))}
          </ol>
        )}
      </aside>
    </>
  );
}
