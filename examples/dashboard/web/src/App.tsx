import { useCallback, useDeferredValue, useMemo, useState } from 'react';
import { AlertTable } from './components/AlertTable';
import { ConnectionBadge } from './components/ConnectionBadge';
import { DegradedBadge } from './components/DegradedBadge';
import { EventsPerSecondChart } from './components/EventsPerSecondChart';
import { EventTimeline } from './components/EventTimeline';
import { FilterChip } from './components/FilterChip';
import { HistoryView } from './components/HistoryView';
import { RulesPanel, type SilenceDraft, SilencesPanel } from './components/DetectionPanels';
import { LiveToggle } from './components/LiveToggle';
import { MetricCard } from './components/MetricCard';
import { RangePicker } from './components/RangePicker';
import { RefusedCount } from './components/RefusedCount';
import { RefusedPanel } from './components/RefusedPanel';
import { SeverityBreakdown } from './components/SeverityBreakdown';
import { TopList } from './components/TopList';
import { UserPanel } from './components/UserPanel';
import { WithNow } from './components/WithNow';
import { useHealth } from './hooks/useHealth';
import { useLiveStream } from './hooks/useLiveStream';
import { useQuery } from './hooks/useQuery';
import { useUrlState } from './hooks/useUrlState';
import { api, timeParams } from './lib/api';
import { filterFor, matchesAlert, matchesEvent } from './lib/filter';
import { formatAgo, formatInt, formatRate } from './lib/format';
import { DEFAULT_LIMITS, sortAlerts } from './lib/state';
import { DEFAULT_RANGE, rangeLabel, type TimeRange } from './lib/urlstate';
import type { RefusedKind } from './types';

const RANGE_METRICS_REFRESH_MS = 5000;

export default function App({ loginError = null }: { loginError?: string | null }) {
  // Range, live/pause, filter, user and the selected alert live in the URL.
  const [view, setView] = useUrlState();
  const { live, filter, user, time } = view;
  const setLive = useCallback((l: boolean) => setView({ live: l }), [setView]);
  const setTime = useCallback((t: TimeRange) => setView({ time: t }), [setView]);
  const selectAlert = useCallback((id: string | null) => setView({ alert: id }), [setView]);
  const stream = useLiveStream(live);
  const { state } = stream;
  const health = useHealth();
  const [refused, setRefused] = useState<RefusedKind | null>(null);
  const [silenceDraft, setSilenceDraft] = useState<SilenceDraft | null>(null);
  const closeRefused = useCallback(() => setRefused(null), []);

  const pick = useCallback(
    (value: string) => {
      const f = filterFor(value);
      setView({ filter: f, user: f.kind === 'user' ? value : null });
    },
    [setView],
  );
  const clearFilter = useCallback(() => setView({ filter: null, user: null }), [setView]);
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

  // The live snapshot covers the live span (the default range); any other
  // range is read from the server, like every other panel's.
  const liveRange = 'range' in time && time.range === DEFAULT_RANGE;
  const ranged = useQuery(JSON.stringify(timeParams(time)), (signal) => api.metrics(time, signal), {
    enabled: !liveRange,
    refreshMs: 'range' in time && live ? RANGE_METRICS_REFRESH_MS : undefined,
  });
  const m = liveRange ? state.metrics : ranged.data ? { ...state.metrics, ...ranged.data, openAlerts: state.metrics?.openAlerts ?? 0 } : null;
  const span = rangeLabel(time);
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
          <RangePicker time={time} onChange={setTime} />
          <LiveToggle live={live} buffered={stream.buffered} onChange={setLive} />
          <WithNow>
            {(now) => (
              <>
                <ConnectionBadge
                  status={stream.status}
                  everConnected={stream.everConnected}
                  failures={stream.failures}
                  nextRetryAt={stream.nextRetryAt}
                  now={now}
                />
                <DegradedBadge health={health} now={now} />
              </>
            )}
          </WithNow>
        </div>
      </header>

      {loginError ? (
        <div className="notice" role="alert" data-testid="login-error">
          {loginError}
        </div>
      ) : null}
      {ranged.error ? (
        <div className="notice" role="alert">
          metrics for {span}: {ranged.error}
        </div>
      ) : null}
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
            value={state.metrics ? formatRate(state.metrics.eventsPerSecond) : '—'}
            raw={state.metrics ? state.metrics.eventsPerSecond : null}
            hint={
              state.metrics ? <WithNow>{(now) => `window ending ${formatAgo(state.metrics!.windowEnd, now)}`}</WithNow> : 'waiting for data'
            }
            testId="metric-events-per-second"
          />
          <MetricCard
            label="Active users"
            value={m ? formatInt(m.activeUsers) : '—'}
            raw={m ? m.activeUsers : null}
            hint={`distinct, ${span}`}
            testId="metric-active-users"
          />
          <MetricCard
            label="Total events"
            value={m ? formatInt(m.totalEvents) : '—'}
            raw={m ? m.totalEvents : null}
            hint={
              m && ((m.invalidEvents ?? 0) > 0 || (m.lateEvents ?? 0) > 0)
                ? `${formatInt(m.invalidEvents ?? 0)} invalid · ${formatInt(m.lateEvents ?? 0)} late`
                : liveRange
                  ? 'since start'
                  : span
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
            <TopList title="Top event types" items={m?.topEventTypes} testId="top-event-types" max={6} span={span} />
            <section className="panel">
              <header className="panel-head">
                <h2>Events by severity</h2>
                <span className="muted">{span}</span>
              </header>
              <SeverityBreakdown bySeverity={m?.bySeverity} />
            </section>
          </div>
        </div>

        <WithNow>
          {(now) => (
            <AlertTable
              alerts={alerts}
              total={allAlerts.length}
              now={now}
              onAck={onAck}
              onPick={pick}
              selected={view.alert}
              onSelect={selectAlert}
              onSilence={(rule, key) => setSilenceDraft({ rule, key })}
            />
          )}
        </WithNow>

        <div className={`row lower-row ${user ? 'with-user' : ''}`}>
          <EventTimeline events={events} total={state.events.length} filtered={filter?.value ?? null} onPick={pick} />
          <TopList
            title="Top users"
            items={m?.topUsers}
            onPick={pick}
            active={filter?.kind === 'user' ? filter.value : null}
            testId="top-users"
            span={span}
          />
          <TopList
            title="Top IPs"
            items={m?.topIPs}
            onPick={pick}
            active={filter?.kind === 'ip' ? filter.value : null}
            testId="top-ips"
            span={span}
          />
          {user ? <UserPanel userId={user} time={time} onClose={() => setView({ user: null })} /> : null}
        </div>

        <HistoryView time={time} />

        <div className="row lower-row">
          <RulesPanel />
          <SilencesPanel key={silenceDraft ? `${silenceDraft.rule}/${silenceDraft.key}` : 'none'} draft={silenceDraft} onDone={() => setSilenceDraft(null)} />
        </div>
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
