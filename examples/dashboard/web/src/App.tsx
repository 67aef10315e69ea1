import { useCallback, useDeferredValue, useMemo, useState } from 'react';
import { AlertTable } from './components/AlertTable';
import { ConnectionBadge } from './components/ConnectionBadge';
import { DegradedBadge } from './components/DegradedBadge';
import { EventsPerSecondChart } from './components/EventsPerSecondChart';
import { EventTimeline } from './components/EventTimeline';
import { FilterChip } from './components/FilterChip';
import { HistoryView } from './components/HistoryView';
import { LiveToggle } from './components/LiveToggle';
import { MetricCard } from './components/MetricCard';
import { RangePicker } from './components/RangePicker';
import { RefusedCount } from './components/RefusedCount';
import { RefusedPanel } from './components/RefusedPanel';
import { RulesPage } from './components/RulesPage';
import { SilencesPage, type SilenceDraft } from './components/SilencesPage';
import { SeverityBreakdown } from './components/SeverityBreakdown';
import { TopList } from './components/TopList';
import { UserPanel } from './components/UserPanel';
import { WithNow } from './components/WithNow';
import { useHealth } from './hooks/useHealth';
import { useLiveStream } from './hooks/useLiveStream';
import { useQuery } from './hooks/useQuery';
import { useUrlState } from './hooks/useUrlState';
import { api, timeParams } from './lib/api';
import { attackOptions, matchesAttack } from './lib/attack';
import { filterFor, matchesAlert, matchesEvent } from './lib/filter';
import { formatAgo, formatDateTime, formatInt, formatRate } from './lib/format';
import { formatMatcher, silenceCounts } from './lib/silence';
import { DEFAULT_LIMITS, mergeSilenced } from './lib/state';
import { DEFAULT_RANGE, rangeLabel, type Page, type TimeRange } from './lib/urlstate';
import type { AttackFilter } from './components/AlertTable';
import type { RefusedKind, Silence } from './types';

const RANGE_METRICS_REFRESH_MS = 5000;
/** GET /api/alerts?silenced=true: often while they are listed, now and then otherwise (to hide the newly silenced) */
const SILENCED_REFRESH_MS = 5000;
const SILENCED_IDLE_REFRESH_MS = 15_000;
const SILENCES_REFRESH_MS = 5000;
const SILENCES_IDLE_REFRESH_MS = 15_000;

const PAGE_LABELS: Record<Page, string> = { live: 'Live', rules: 'Rules', silences: 'Silences' };

export default function App({ loginError = null }: { loginError?: string | null }) {
  // Range, live/pause, filter, user and the selected alert live in the URL.
  const [view, setView] = useUrlState();
  const { live, filter, user, time, page } = view;
  const setLive = useCallback((l: boolean) => setView({ live: l }), [setView]);
  const setTime = useCallback((t: TimeRange) => setView({ time: t }), [setView]);
  const selectAlert = useCallback((id: string | null) => setView({ alert: id }), [setView]);
  const stream = useLiveStream(live);
  const { state } = stream;
  const health = useHealth();
  const [refused, setRefused] = useState<RefusedKind | null>(null);
  // What "Silence…" on an alert row prefills; n makes each click a fresh form.
  const [silenceDraft, setSilenceDraft] = useState<(SilenceDraft & { n: number }) | null>(null);
  const closeRefused = useCallback(() => setRefused(null), []);
  const goTo = useCallback((p: Page) => setView({ page: p }), [setView]);

  // Silenced alerts are not sent live: they are read over REST and merged.
  const silencedAlerts = useQuery('silenced-alerts', (signal) => api.alerts('all', signal, true), {
    refreshMs: view.silenced ? SILENCED_REFRESH_MS : SILENCED_IDLE_REFRESH_MS,
    keepPrevious: true,
  });
  const silences = useQuery<Silence[]>('silences', (signal) => api.silences(signal), {
    refreshMs: page === 'silences' ? SILENCES_REFRESH_MS : SILENCES_IDLE_REFRESH_MS,
    keepPrevious: true,
  });
  const refreshSilenced = silencedAlerts.refresh;
  const refreshSilences = silences.refresh;
  const onSilenceChange = useCallback(() => {
    refreshSilences();
    refreshSilenced();
  }, [refreshSilences, refreshSilenced]);
  const silenceById = useMemo(() => new Map((silences.data ?? []).map((s) => [s.id, s])), [silences.data]);
  const describeSilence = useCallback(
    (id: string) => {
      const s = silenceById.get(id);
      return s
        ? `silenced by ${id} (${s.state}, until ${formatDateTime(s.endsAt)})\n${s.matchers.map(formatMatcher).join(' ')}\n${s.createdBy}: ${s.comment}`
        : `silenced by ${id}`;
    },
    [silenceById],
  );
  const onSilence = useCallback(
    (rule: string, key: string) => {
      setSilenceDraft((d) => ({ rule, key, n: (d?.n ?? 0) + 1 }));
      setView({ page: 'silences' });
    },
    [setView],
  );
  const openSilences = useCallback(() => {
    setSilenceDraft(null);
    setView({ page: 'silences' });
  }, [setView]);
  const setAttack = useCallback((change: Partial<AttackFilter>) => setView(change), [setView]);
  const setShowSilenced = useCallback(
    (show: boolean) => {
      setView({ silenced: show });
      if (show) refreshSilenced();
    },
    [setView, refreshSilenced],
  );

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

  const allAlerts = useMemo(
    () => mergeSilenced(Object.values(state.alerts), silencedAlerts.data?.alerts),
    [state.alerts, silencedAlerts.data],
  );
  const silencedCount = useMemo(() => allAlerts.filter((a) => a.silencedBy).length, [allAlerts]);
  // What the table could list: silenced alerts only when asked for.
  const listable = useMemo(() => (view.silenced ? allAlerts : allAlerts.filter((a) => !a.silencedBy)), [allAlerts, view.silenced]);
  const options = useMemo(() => attackOptions(listable), [listable]);
  const { tactic, technique } = view;
  const attack = useMemo(() => ({ tactic, technique }), [tactic, technique]);
  const alerts = useMemo(
    () => listable.filter((a) => (!filter || matchesAlert(a, filter)) && matchesAttack(a.tags, tactic, technique)),
    [listable, filter, tactic, technique],
  );
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
  // A silenced alert needs no acknowledgement to quiet the card.
  const unacked = firing.filter((a) => !a.acked && !a.silencedBy).length;
  const activeSilences = silences.data ? silenceCounts(silences.data).active : null;

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◆
          </span>
          <h1>rdr</h1>
          <nav className="tabs" aria-label="pages">
            {(Object.keys(PAGE_LABELS) as Page[]).map((p) => (
              <button
                key={p}
                type="button"
                className={`tab ${page === p ? 'on' : ''}`}
                aria-current={page === p ? 'page' : undefined}
                onClick={() => (p === 'silences' ? openSilences() : goTo(p))}
                data-testid={`nav-${p}`}
              >
                {PAGE_LABELS[p]}
                {p === 'silences' && activeSilences ? (
                  <b className="tab-count" title={`${activeSilences} active`} data-testid="nav-silences-active">
                    {formatInt(activeSilences)}
                  </b>
                ) : null}
              </button>
            ))}
          </nav>
        </div>
        <div className="topbar-right">
          {filter && page === 'live' ? <FilterChip filter={filter} onClear={clearFilter} /> : null}
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
          {page === 'live' ? <RangePicker time={time} onChange={setTime} /> : null}
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

      {page === 'rules' ? (
        <main>
          <RulesPage />
        </main>
      ) : page === 'silences' ? (
        <main>
          <SilencesPage
            query={silences}
            draft={silenceDraft}
            formKey={silenceDraft ? `draft-${silenceDraft.n}` : 'blank'}
            onChange={onSilenceChange}
          />
        </main>
      ) : (
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
                attack={attack}
                attackOptions={options}
                onAttack={setAttack}
                showSilenced={view.silenced}
                silencedCount={silencedCount}
                onShowSilenced={setShowSilenced}
                onSilence={onSilence}
                describeSilence={describeSilence}
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
        </main>
      )}
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
