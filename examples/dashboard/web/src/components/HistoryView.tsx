import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { api } from '../lib/api';
import { alignHistory, colorForKey } from '../lib/chart';
import { formatCompact, formatDateTime, formatInt, parseGoDuration, formatDuration, toDateTimeLocal } from '../lib/format';
import type { HistoryGroupBy, HistoryMetric, HistoryResponse } from '../types';
import { darkAxes, UPlotChart } from './UPlotChart';

const RANGES = ['15m', '1h', '24h', 'custom'] as const;
type Range = (typeof RANGES)[number];
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

interface Custom {
  start: string;
  stop: string;
}

/** Stored history from GET /api/history with a time-range picker. */
export function HistoryView() {
  const [metric, setMetric] = useState<HistoryMetric>('events');
  const [groupBy, setGroupBy] = useState<HistoryGroupBy>('eventType');
  const [range, setRange] = useState<Range>('15m');
  const [step, setStep] = useState<string>('');
  const [draft, setDraft] = useState<Custom>(() => {
    const now = Date.now();
    return { start: toDateTimeLocal(now - 3600_000), stop: toDateTimeLocal(now) };
  });
  const [custom, setCustom] = useState<Custom | null>(null);
  const [tick, setTick] = useState(0);
  const [data, setData] = useState<HistoryResponse | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (range === 'custom' && !custom) return undefined;
    const ctl = new AbortController();
    const q =
      range === 'custom' && custom
        ? { metric, groupBy, start: new Date(custom.start), stop: new Date(custom.stop), interval: step }
        : { metric, groupBy, range, interval: step };
    setLoading(true);
    setError(null);
    api.history(q, ctl.signal).then(
      (r) => {
        setData(r);
        setLoading(false);
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setError(e instanceof Error ? e.message : String(e));
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [metric, groupBy, range, custom, step, tick]);

  // Relative ranges slide with time: refresh them quietly.
  useEffect(() => {
    if (range === 'custom') return undefined;
    const id = window.setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => window.clearInterval(id);
  }, [range]);

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

  const customInvalid = !draft.start || !draft.stop || Date.parse(draft.start) >= Date.parse(draft.stop);
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
        <div className="segmented" role="group" aria-label="time range">
          {RANGES.map((r) => (
            <button
              key={r}
              type="button"
              className={range === r ? 'on' : undefined}
              aria-pressed={range === r}
              onClick={() => setRange(r)}
            >
              {r}
            </button>
          ))}
        </div>
        <select aria-label="interval" value={step} onChange={(e) => setStep(e.target.value)}>
          {INTERVALS.map((i) => (
            <option key={i} value={i}>
              {i ? `every ${i}` : 'auto interval'}
            </option>
          ))}
        </select>
        <button type="button" className="btn small ghost" onClick={() => setTick((t) => t + 1)} disabled={loading}>
          {loading ? 'loading…' : 'refresh'}
        </button>
      </div>
      {range === 'custom' ? (
        <form
          className="controls custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            if (!customInvalid) setCustom({ ...draft });
          }}
        >
          <label>
            start{' '}
            <input type="datetime-local" value={draft.start} onChange={(e) => setDraft({ ...draft, start: e.target.value })} />
          </label>
          <label>
            stop{' '}
            <input type="datetime-local" value={draft.stop} onChange={(e) => setDraft({ ...draft, stop: e.target.value })} />
          </label>
          <button type="submit" className="btn small" disabled={customInvalid}>
            apply
          </button>
          {customInvalid ? <span className="muted small">start must be before stop</span> : null}
        </form>
      ) : null}
      {error ? (
        <div className="empty error">history unavailable: {error}</div>
      ) : range === 'custom' && !custom ? (
        <div className="empty">pick a start and stop, then apply</div>
      ) : aligned.t.length === 0 ? (
        <div className="empty">{loading ? 'loading…' : 'no data in this range'}</div>
      ) : (
        <UPlotChart options={options} optionsKey={optionsKey} data={plotData} className="chart" label={`history of ${metric}`} />
      )}
    </section>
  );
}
