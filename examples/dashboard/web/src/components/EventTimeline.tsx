import { memo } from 'react';
import { formatClock } from '../lib/format';
import type { TimelineEvent } from '../lib/state';

interface Props {
  events: TimelineEvent[];
  total: number;
  /** the active filter's value, for the empty message */
  filtered?: string | null;
  onPick: (value: string) => void;
}

function metaSummary(m: Record<string, unknown> | undefined): string {
  if (!m) return '';
  return Object.entries(m)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

const EventRow = memo(function EventRow({ e, onPick }: { e: TimelineEvent; onPick: (v: string) => void }) {
  return (
    <li className="event-row" data-testid="event-row">
      <time dateTime={e.timestamp}>{formatClock(e.timestamp)}</time>
      <i className={`dot sev-bg-${e.severity}`} title={e.severity} />
      <span className="etype">{e.eventType}</span>
      <button type="button" className="linklike key" onClick={() => onPick(e.userId)}>
        {e.userId}
      </button>
      {e.ipAddress ? (
        <button type="button" className="linklike key ip" onClick={() => onPick(e.ipAddress as string)}>
          {e.ipAddress}
        </button>
      ) : (
        <span />
      )}
      <span className="meta muted">{metaSummary(e.metadata)}</span>
    </li>
  );
});

/** The most recent sampled events, newest first. */
export const EventTimeline = memo(function EventTimeline({ events, total, filtered, onPick }: Props) {
  return (
    <section className="panel timeline-panel" data-testid="event-timeline">
      <header className="panel-head">
        <h2>Event timeline</h2>
        <span className="muted">
          {events.length === total ? `last ${total}` : `${events.length} of last ${total}`} sampled
        </span>
      </header>
      {events.length === 0 ? (
        <div className="empty">{filtered ? `no sampled events for ${filtered}` : 'no events yet'}</div>
      ) : (
        <ol className="timeline">
          {events.map((e) => (
            <EventRow key={e.seq} e={e} onPick={onPick} />
          ))}
        </ol>
      )}
    </section>
  );
});
