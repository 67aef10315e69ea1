import type { ConnectionStatus } from '../lib/backoff';
import { formatDuration } from '../lib/format';

interface Props {
  status: ConnectionStatus;
  everConnected: boolean;
  failures: number;
  /** epoch ms of the next reconnect attempt */
  nextRetryAt: number | null;
  now: number;
}

export function ConnectionBadge({ status, everConnected, failures, nextRetryAt, now }: Props) {
  let text: string = status;
  if (status === 'reconnecting') text = everConnected ? 'reconnecting…' : 'connecting…';
  let retry = '';
  if (status !== 'connected' && nextRetryAt != null) {
    const left = nextRetryAt - now;
    retry = left > 1000 ? `retry #${Math.max(1, failures)} in ${formatDuration(left)}` : `retry #${Math.max(1, failures)}…`;
  }
  return (
    <span
      className={`badge conn conn-${status}`}
      data-testid="connection-badge"
      data-status={status}
      role="status"
      aria-live="polite"
      title={retry || undefined}
    >
      <i className="dot" aria-hidden="true" />
      {text}
      {retry ? <span className="muted small"> · {retry}</span> : null}
    </span>
  );
}
