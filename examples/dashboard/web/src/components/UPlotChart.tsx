import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

interface Props {
  /** builds the chart options for a width; called again only when optionsKey changes */
  options: (width: number) => uPlot.Options;
  optionsKey: string;
  data: uPlot.AlignedData;
  className?: string;
  label: string;
}

/** Thin uPlot wrapper: one chart instance, setData on every data change, resized with its box. */
export function UPlotChart({ options, optionsKey, data, className, label }: Props) {
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  const optionsRef = useRef(options);
  dataRef.current = data;
  optionsRef.current = options;

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return undefined;
    const width = Math.max(200, Math.floor(box.clientWidth));
    const plot = new uPlot(optionsRef.current(width), dataRef.current, box);
    plotRef.current = plot;
    let last = width;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, Math.floor(box.clientWidth));
      if (w !== last) {
        last = w;
        plot.setSize({ width: w, height: plot.height });
      }
    });
    ro.observe(box);
    return () => {
      ro.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
  }, [optionsKey]);

  useEffect(() => {
    plotRef.current?.setData(data);
  }, [data]);

  return <div ref={boxRef} className={className} role="img" aria-label={label} />;
}

/** Shared dark-theme axis styling. */
export function darkAxes(yFormat: (v: number) => string): uPlot.Axis[] {
  const common = {
    stroke: '#8b949e',
    grid: { stroke: 'rgba(240,246,252,0.07)', width: 1 },
    ticks: { stroke: 'rgba(240,246,252,0.12)', width: 1 },
    font: '11px system-ui, sans-serif',
  };
  return [common, { ...common, size: 56, values: (_u, vals) => vals.map((v) => yFormat(v)) }];
}
