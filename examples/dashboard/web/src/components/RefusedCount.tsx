import { formatInt } from '../lib/format';

interface Props {
  label: string;
  count: number | null;
  onOpen: () => void;
  testId: string;
}

/** "Dead letters 12": a count from GET /api/health that opens the list. */
export function RefusedCount({ label, count, onOpen, testId }: Props) {
  return (
    <button
      type="button"
      className={`badge count-button ${count ? 'has-some' : ''}`}
      data-testid={testId}
      data-value={count ?? ''}
      onClick={onOpen}
      title={`show the newest ${label.toLowerCase()}`}
    >
      {label} <b>{formatInt(count)}</b>
    </button>
  );
}
