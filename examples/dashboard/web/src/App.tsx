import { useCallback, useDeferredValue, useEffect, useMemo, useState } from 'react';
import { AlertTable } from './components/AlertTable';
import { ConnectionBadge } from './components/ConnectionBadge';
import { DegradedBadge } from './components/DegradedBadge';
import { EventsPerSecondChart } from './components/EventsPerSecondChart';
import { EventTimeline } from './components/EventTimeline';
import { FilterChip } from './components/FilterChip';
import { HistoryView } from './components/HistoryView';
import { LiveToggle } from './components/LiveToggle';
import { MetricCard } from './components/MetricCard';
import { RefusedCount } from './components/RefusedCount';
import { RefusedPanel } from './components/RefusedPanel';
import { SeverityBreakdown } from './components/SeverityBreakdown';
import { TopList } from './components/TopList';
import { UserPanel } from './components/UserPanel';
import { useHealth } from './hooks/useHealth';
import { useLiveStream } from './hooks/useLiveStream';
import { filterFor, matchesAlert, matchesEvent, type Filter } from './lib/filter';
import { formatAgo, formatInt, formatRate } from './lib/format';
import { DEFAULT_LIMITS, sortAlerts } from './lib/state';
import type { RefusedKind } from './types';

/** A clock that ticks once a second, for "5s ago" labels. */
function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(id);
  }, [ms]);
  return now;
}

export default function App() {
  const [live, setLive] = useState(true);
  const stream = useLiveStream(live);
  const { state } = stream;
  const [filter, setFilter] = useState<Filter | null>(null);
  const [user, setUser] = useState<string | null>(null);
  const now = useNow();
  const health = useHealth();
  const [refused, setRefused] = useState<RefusedKind | null>(null);
  const closeRefused = useCallback(() => setRefused(null), []);

  const pick = useCallback((value: string) => {
    const f = filterFor(value);
    setFilter(f);
    setUser(f.kind === 'user' ? value : null);
  }, []);
  const clearFilter = useCallback(() => {
    setFilter(null);
    setUser(null);
  }, []);
  const { ack } = stream;
  const onAck = useCallback((id: string) => void ack(id), [ack]);

  const allAlerts = useMemo(() => sortAlerts(Object.values(state.alerts)), [state.alerts]);
  const alerts = useMemo(() => (filter ? allAlerts.filter((a) => matchesAlert(a, filter)) : allAlerts), [allAlerts, filter]);
  const events = useMemo(
    () => (filter ? state.events.filter((e) => matchesEvent(e, filter)) : state.events),
    [state.events, filter],
  );
  // The chart can lag a frame behind when the main thread is busy.
  const points = useDeferredValue(state.points);

  const m = state.metrics;
  const firing = allAlerts.filter((a) => a.status === 'firing');
  const openAlerts = m ? m.openAlerts : firing.length;
  const unacked = firing.filter((a) => !a.acked).length;

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◆
          </span>
          <h1>rdr</h1>
          <span className="muted">security events, live</span>
        </div>
        <div className="topbar-right">
          {filter ? <FilterChip filter={filter} onClear={clearFilter} /> : null}
          {state.dropped > 0 ? (
            <span className="muted small" title="events the server dropped for this (slow) connection" data-testid="dropped">
              server dropped {formatInt(state.dropped)}
            </span>
          ) : null}
          {state.discarded > 0 ? (
            <span className="muted small" title="updates discarded here while paused or hidden">
              skipped {formatInt(state.discarded)}
            </span>
          ) : null}
          {health ? (
            <>
              <RefusedCount
                label="Dead letters"
                count={health.deadLetters}
                onOpen={() => setRefused('deadletters')}
                testId="dead-letters-count"
              />
              <RefusedCount label="Late" count={health.late} onOpen={() => setRefused('late')} testId="late-count" />
            </>
          ) : null}
          <LiveToggle live={live} buffered={stream.buffered} onChange={setLive} />
          <ConnectionBadge
            status={stream.status}
            everConnected={stream.everConnected}
            failures={stream.failures}
            nextRetryAt={stream.nextRetryAt}
            now={now}
          />
          <DegradedBadge health={health} now={now} />
        </div>
      </header>

      {stream.error ? (
        <div className="notice" role="alert">
          {stream.error}
          <button type="button" className="chip-x" onClick={stream.clearError} aria-label="dismiss">
            ×
          </button>
        </div>
      ) : null}

      <main className="grid">
        <div className="cards">
          <MetricCard
            label="Events / sec"
            value={m ? formatRate(m.eventsPerSecond) : '—'}
            raw={m ? m.eventsPerSecond : null}
            hint={m ? `window ending ${formatAgo(m.windowEnd, now)}` : 'waiting for data'}
            testId="metric-events-per-second"
          />
          <MetricCard
            label="Active users"
            value={m ? formatInt(m.activeUsers) : '—'}
            raw={m ? m.activeUsers : null}
            hint="distinct, last 5 min"
            testId="metric-active-users"
          />
          <MetricCard
            label="Total events"
            value={m ? formatInt(m.totalEvents) : '—'}
            raw={m ? m.totalEvents : null}
            hint={
              m && ((m.invalidEvents ?? 0) > 0 || (m.lateEvents ?? 0) > 0)
                ? `${formatInt(m.invalidEvents ?? 0)} invalid · ${formatInt(m.lateEvents ?? 0)} late`
                : 'since start'
            }
            testId="metric-total-events"
          />
          <MetricCard
            label="Open alerts"
            value={formatInt(openAlerts)}
            raw={openAlerts}
            hint={unacked > 0 ? `${formatInt(unacked)} not acknowledged` : 'all acknowledged'}
            tone={openAlerts > 0 ? (unacked > 0 ? 'danger' : 'warn') : 'default'}
            testId="metric-open-alerts"
          />
        </div>

        <div className="row chart-row">
          <EventsPerSecondChart points={points} spanSeconds={DEFAULT_LIMITS.chartSeconds} />
          <div className="stack">
            <TopList title="Top event types" items={m?.topEventTypes} testId="top-event-types" max={6} />
            <section className="panel">
              <header className="panel-head">
                <h2>Events by severity</h2>
                <span className="muted">5 min</span>
              </header>
              <SeverityBreakdown bySeverity={m?.bySeverity} />
            </section>
          </div>
        </div>

        <AlertTable alerts={alerts} total={allAlerts.length} now={now} onAck={onAck} onPick={pick} />

        <div className={`row lower-row ${user ? 'with-user' : ''}`}>
          <EventTimeline events={events} total={state.events.length} filtered={filter?.value ?? null} onPick={pick} />
          <TopList
            title="Top users"
            items={m?.topUsers}
            onPick={pick}
            active={filter?.kind === 'user' ? filter.value : null}
            testId="top-users"
          />
          <TopList
            title="Top IPs"
            items={m?.topIPs}
            onPick={pick}
            active={filter?.kind === 'ip' ? filter.value : null}
            testId="top-ips"
          />
          {user ? <UserPanel userId={user} onClose={() => setUser(null)} /> : null}
        </div>

        <HistoryView />
      </main>
      {refused ? (
        <RefusedPanel
          key={refused}
          kind={refused}
          count={refused === 'late' ? (health?.late ?? null) : (health?.deadLetters ?? null)}
          onClose={closeRefused}
        />
      ) : null}
      <footer className="footer muted small">
        {state.clientId ? `client ${state.clientId} · ` : ''}
        {formatInt(state.received)} messages
      </footer>
    </div>
  );
}
