// Reconnect delays: exponential with a ceiling and jitter, so a restarted
// server is not hit by every dashboard at the same instant.

export interface BackoffOptions {
  /** delay of the first retry */
  baseMs: number;
  /** ceiling */
  maxMs: number;
  factor: number;
  /** 0..1: the delay is drawn from [d·(1−jitter), d] */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, factor: 2, jitter: 0.25 };

/** Delay before retry number `attempt` (0 = first retry after a drop). */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const n = Math.max(0, Math.floor(Number.isFinite(attempt) ? attempt : 0));
  // factor^n overflows to Infinity for large n; min() caps it.
  const d = Math.min(opts.maxMs, opts.baseMs * Math.pow(opts.factor, n));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(d * (1 - opts.jitter * r));
}

export type ConnectionStatus = 'connected' | 'reconnecting' | 'offline';

/**
 * What the badge shows. `readyState` is the WebSocket's (0 connecting,
 * 1 open, 2 closing, 3 closed, -1 not created); `failures` counts
 * connection attempts that failed since the last successful open.
 */
export function connectionStatus(readyState: number, failures: number, online: boolean): ConnectionStatus {
  if (readyState === 1) return 'connected';
  if (!online || failures >= 3) return 'offline';
  return 'reconnecting';
}
