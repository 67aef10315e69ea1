// The live connection: WebSocket → MessageBuffer (a ref) → one state update
// per animation frame. Reconnects with exponential backoff and refills alerts,
// cards and chart over REST after every (re)connect.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
// Deep imports: the package is CommonJS whose `default` export is a getter
// that the bundler's interop does not resolve.
import { ReadyState } from 'react-use-websocket/dist/lib/constants';
import { useWebSocket } from 'react-use-websocket/dist/lib/use-websocket';
import { api, ApiError, streamUrl } from '../lib/api';
import { backoffDelay, connectionStatus, type ConnectionStatus } from '../lib/backoff';
import { MessageBuffer, parseMessage } from '../lib/buffer';
import {
  applyBatch,
  DEFAULT_LIMITS,
  initialState,
  refillAlerts,
  refillChart,
  seedFromSnapshot,
  setAcked,
  upsertAlert,
  type DashboardState,
} from '../lib/state';

const TOPICS = ['metrics', 'alerts', 'events'] as const;

export interface LiveStream {
  state: DashboardState;
  status: ConnectionStatus;
  everConnected: boolean;
  /** failed attempts since the last successful open */
  failures: number;
  /** when the next reconnect attempt is due (epoch ms), while not connected */
  nextRetryAt: number | null;
  /** messages waiting while paused */
  buffered: number;
  /** last REST/ack error, for a small notice */
  error: string | null;
  clearError: () => void;
  ack: (id: string) => Promise<void>;
}

function useOnline(): boolean {
  const [online, setOnline] = useState(() => (typeof navigator === 'undefined' ? true : navigator.onLine));
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return online;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function useLiveStream(live: boolean): LiveStream {
  const [state, setState] = useState<DashboardState>(initialState);
  const [failures, setFailures] = useState(0);
  const [everConnected, setEverConnected] = useState(false);
  const [nextRetryAt, setNextRetryAt] = useState<number | null>(null);
  const [buffered, setBuffered] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const online = useOnline();

  const bufferRef = useRef(new MessageBuffer());
  const frameRef = useRef<number | null>(null);
  const liveRef = useRef(live);
  const refillRef = useRef<AbortController | null>(null);

  const refill = useCallback(async () => {
    refillRef.current?.abort();
    const ctl = new AbortController();
    refillRef.current = ctl;
    const sent = Date.now();
    const stop = new Date(sent);
    const start = new Date(sent - DEFAULT_LIMITS.chartSeconds * 1000);
    const [alerts, snap, hist] = await Promise.allSettled([
      api.alerts('all', ctl.signal),
      api.metrics({ range: '5m' }, ctl.signal),
      api.history({ metric: 'events', groupBy: 'eventType', start, stop, interval: '1s' }, ctl.signal),
    ]);
    if (ctl.signal.aborted) return;
    setState((s) => {
      let n = s;
      if (alerts.status === 'fulfilled') n = refillAlerts(n, alerts.value.alerts ?? [], sent - 2000);
      if (snap.status === 'fulfilled' && snap.value) n = seedFromSnapshot(n, snap.value);
      if (hist.status === 'fulfilled' && hist.value) n = refillChart(n, hist.value);
      return n;
    });
    if (alerts.status === 'rejected') setError(`alerts: ${message(alerts.reason)}`);
  }, []);

  const flush = useCallback(() => {
    frameRef.current = null;
    if (!liveRef.current) return;
    const batch = bufferRef.current.drain();
    if (batch.received === 0) return;
    setState((s) => applyBatch(s, batch));
    // Alert updates were thrown away (hidden tab or a long pause): resync.
    if (batch.discarded > 0 && batch.alerts.length > 0) void refill();
  }, [refill]);

  const schedule = useCallback(() => {
    if (frameRef.current === null && liveRef.current) frameRef.current = requestAnimationFrame(flush);
  }, [flush]);

  useEffect(() => {
    liveRef.current = live;
    if (live) {
      setBuffered(0);
      schedule();
      return undefined;
    }
    const id = window.setInterval(() => setBuffered(bufferRef.current.size), 500);
    return () => window.clearInterval(id);
  }, [live, schedule]);

  useEffect(
    () => () => {
      if (frameRef.current !== null) cancelAnimationFrame(frameRef.current);
      refillRef.current?.abort();
    },
    [],
  );

  const url = useMemo(() => streamUrl(window.location, TOPICS), []);

  const { readyState } = useWebSocket(url, {
    onOpen: () => {
      setFailures(0);
      setNextRetryAt(null);
      setEverConnected(true);
      void refill();
    },
    onClose: () => setFailures((f) => f + 1),
    onMessage: (e: MessageEvent) => {
      const m = parseMessage(e.data);
      if (!m) return;
      bufferRef.current.push(m);
      schedule();
    },
    // Never hand messages to the hook's own state: one React update per
    // message is exactly what the frame buffer is there to avoid.
    filter: () => false,
    shouldReconnect: () => true,
    reconnectAttempts: Number.MAX_SAFE_INTEGER,
    reconnectInterval: (attempt: number) => {
      const d = backoffDelay(attempt);
      setNextRetryAt(Date.now() + d);
      return d;
    },
  });

  const ack = useCallback(async (id: string) => {
    setState((s) => setAcked(s, id, true));
    try {
      const res = await api.ack(id);
      if (res?.alert) setState((s) => upsertAlert(s, { ...res.alert, acked: true }));
    } catch (e) {
      setState((s) => setAcked(s, id, false));
      setError(e instanceof ApiError && e.status === 404 ? `alert ${id} is gone` : `acknowledge failed: ${message(e)}`);
    }
  }, []);

  const clearError = useCallback(() => setError(null), []);

  return {
    state,
    status: connectionStatus(readyState === ReadyState.UNINSTANTIATED ? 0 : readyState, failures, online),
    everConnected,
    failures,
    nextRetryAt: readyState === ReadyState.OPEN ? null : nextRetryAt,
    buffered,
    error,
    clearError,
    ack,
  };
}
