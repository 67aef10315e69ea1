import { useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { useQuery } from '../hooks/useQuery';
import { api, timeParams } from '../lib/api';
import { alignHistory, colorForKey } from '../lib/chart';
import { formatCompact, formatDateTime, formatInt, parseGoDuration, formatDuration } from '../lib/format';
import type { TimeRange } from '../lib/urlstate';
import type { HistoryGroupBy, HistoryMetric } from '../types';
import { darkAxes, UPlotChart } from './UPlotChart';

const INTERVALS = ['', '10s', '1m', '5m', '1h'] as const;
const REFRESH_MS = 15_000;

const METRICS: { value: HistoryMetric; label: string }[] = [
  { value: 'events', label: 'events' },
  { value: 'activeUsers', label: 'active users' },
  { value: 'alerts', label: 'alerts' },
];
const GROUPS: { value: HistoryGroupBy; label: string }[] = [
  { value: 'eventType', label: 'by event type' },
  { value: 'severity', label: 'by severity' },
  { value: 'rule', label: 'by rule' },
  { value: '', label: 'total' },
];

interface Props {
  /** the view's time range, shared by every panel */
  time: TimeRange;
}

/** Stored history from GET /api/history over the view's time range. */
export function HistoryView({ time }: Props) {
  const [metric, setMetric] = useState<HistoryMetric>('events');
  const [groupBy, setGroupBy] = useState<HistoryGroupBy>('eventType');
  const [step, setStep] = useState<string>('');
  const key = JSON.stringify({ metric, groupBy, step, ...timeParams(time) });
  const query = useQuery(
    key,
    (signal) => api.history({ metric, groupBy, interval: step, ...('start' in time ? time : { range: time.range }) }, signal),
    // Relative ranges slide with time: refresh them quietly.
    { refreshMs: 'range' in time ? REFRESH_MS : undefined },
  );
  const { data, loading, error } = query;

  const aligned = useMemo(
    () => alignHistory(data?.series, parseGoDuration(data?.interval), Date.parse(data?.stop ?? '')),
    [data],
  );
  const plotData = useMemo<uPlot.AlignedData>(() => [aligned.t, ...aligned.values], [aligned]);
  const optionsKey = `${aligned.keys.join('|')}`;
  const options = (width: number): uPlot.Options => ({
    width,
    height: 220,
    cursor: { points: { size: 5 } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.1)] } },
    axes: darkAxes(formatCompact),
    series: [
      { label: 'time' },
      ...aligned.keys.map((k): uPlot.Series => {
        const [stroke] = colorForKey(k);
        return { label: k, stroke, width: 1.5, spanGaps: false, points: { show: false }, value: (_u, v) => (v == null ? '—' : formatInt(v)) };
      }),
    ],
  });

  const ivMs = parseGoDuration(data?.interval);

  return (
    <section className="panel history-panel" data-testid="history-view">
      <header className="panel-head">
        <h2>History</h2>
        <span className="muted">
          {data
            ? `${formatDateTime(data.start)} → ${formatDateTime(data.stop)}${Number.isFinite(ivMs) ? ` · every ${formatDuration(ivMs)}` : ''}`
            : ''}
        </span>
      </header>
      <div className="controls">
        <select aria-label="metric" value={metric} onChange={(e) => setMetric(e.target.value as HistoryMetric)}>
          {METRICS.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
        <select aria-label="group by" value={groupBy} onChange={(e) => setGroupBy(e.target.value as HistoryGroupBy)}>
          {GROUPS.map((g) => (
            <option key={g.value} value={g.value}>
              {g.label}
            </option>
          ))}
        </select>
        <select aria-label="interval" value={step} onChange={(e) => setStep(e.target.value)}>
          {INTERVALS.map((i) => (
            <option key={i} value={i}>
              {i ? `every ${i}` : 'auto interval'}
            </option>
          ))}
        </select>
        <button type="button" className="btn small ghost" onClick={query.refresh} disabled={loading}>
          {loading ? 'loading…' : 'refresh'}
        </button>
      </div>
      {error && !data ? (
        <div className="empty error">history unavailable: {error}</div>
      ) : aligned.t.length === 0 ? (
        <div className="empty">{loading ? 'loading…' : 'no data in this range'}</div>
      ) : (
        <UPlotChart options={options} optionsKey={optionsKey} data={plotData} className="chart" label={`history of ${metric}`} />
      )}
    </section>
  );
}
