import type { ReactNode } from 'react';

interface Props {
  label: string;
  /** formatted value */
  value: string;
  /** raw value, exposed as data-value for tests and tooling */
  raw: number | null;
  hint?: ReactNode;
  tone?: 'default' | 'warn' | 'danger';
  testId: string;
}

export function MetricCard({ label, value, raw, hint, tone = 'default', testId }: Props) {
  return (
    <div className={`metric-card tone-${tone}`} data-testid={testId} data-value={raw ?? ''}>
      <div className="metric-label">{label}</div>
      <div className="metric-value">{value}</div>
      {hint ? <div className="metric-hint">{hint}</div> : null}
    </div>
  );
}
