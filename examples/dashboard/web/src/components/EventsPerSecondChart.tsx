import { useMemo, useRef } from 'react';
import type uPlot from 'uplot';
import { colorForKey, stackPoints } from '../lib/chart';
import { formatCompact, formatRate } from '../lib/format';
import type { ChartPoint } from '../lib/state';
import { darkAxes, UPlotChart } from './UPlotChart';

interface Props {
  points: ChartPoint[];
  spanSeconds: number;
}

/** Live events/sec, stacked by event type, over the last few minutes. */
export function EventsPerSecondChart({ points, spanSeconds }: Props) {
  const stacked = useMemo(() => stackPoints(points), [points]);
  // Layers are drawn in series order, so the top of the stack goes first and
  // each lower (smaller cumulative) layer paints over it.
  const order = useMemo(() => stacked.keys.map((_, i) => stacked.keys.length - 1 - i), [stacked.keys]);
  const rawRef = useRef(stacked.raw);
  rawRef.current = stacked.raw;

  const optionsKey = stacked.keys.join('|');
  const data = useMemo<uPlot.AlignedData>(
    () => [stacked.t, ...order.map((i) => stacked.stacked[i] as number[])],
    [stacked, order],
  );

  const options = (width: number): uPlot.Options => ({
    width,
    height: 220,
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    legend: { live: true },
    scales: {
      x: {
        time: true,
        range: (_u, _min, max) => [max - spanSeconds, max],
      },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
    },
    axes: darkAxes(formatCompact),
    series: [
      { label: 'time' },
      ...order.map((i): uPlot.Series => {
        const key = stacked.keys[i] as string;
        const [stroke, fill] = colorForKey(key);
        return {
          label: key,
          stroke,
          fill,
          width: 1.25,
          points: { show: false },
          value: (_u, _v, _si, di) => (di == null ? '—' : formatRate(rawRef.current[i]?.[di] ?? 0)),
        };
      }),
    ],
  });

  const last = points[points.length - 1];
  return (
    <section className="panel chart-panel" aria-labelledby="eps-title">
      <header className="panel-head">
        <h2 id="eps-title">Events / second by type</h2>
        <span className="muted">
          last {Math.round(spanSeconds / 60)} min{last ? ` · now ${formatRate(last.total)}/s` : ''}
        </span>
      </header>
      {points.length === 0 ? (
        <div className="empty chart-empty">waiting for the first window…</div>
      ) : (
        <UPlotChart
          options={options}
          optionsKey={optionsKey}
          data={data}
          className="chart"
          label="events per second by event type"
        />
      )}
    </section>
  );
}
