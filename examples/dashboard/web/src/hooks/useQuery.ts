import { useCallback, useEffect, useRef, useState } from 'react';

export interface QueryResult<T> {
  data: T | null;
  error: string | null;
  /** true while the first answer (or the answer for new arguments) is awaited */
  loading: boolean;
  refresh: () => void;
}

export interface QueryOptions<T> {
  /** refetch this often while mounted (a failed refetch keeps the last data) */
  refreshMs?: number;
  /** off: do not fetch (e.g. a custom range not yet set) */
  enabled?: boolean;
  /** maps an error to the message shown; default its message */
  describe?: (e: unknown) => string;
  /** data kept while the first answer is awaited */
  initial?: T | null;
  /** keep showing the last data while a new key loads (no "loading…" flash) */
  keepPrevious?: boolean;
}

/**
 * One way every panel loads data: fetch(signal) when key changes (the
 * previous request is aborted), optionally again every refreshMs, with
 * loading and error states. key is what the request depends on, as a
 * string.
 */
export function useQuery<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>, opts: QueryOptions<T> = {}): QueryResult<T> {
  const { refreshMs, enabled = true, keepPrevious = false } = opts;
  const [state, setState] = useState<{ key: string; data: T | null; error: string | null; loading: boolean }>({
    key,
    data: opts.initial ?? null,
    error: null,
    loading: enabled,
  });
  const [tick, setTick] = useState(0);
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;
  const describeRef = useRef(opts.describe);
  describeRef.current = opts.describe;

  useEffect(() => {
    if (!enabled) return undefined;
    const ctl = new AbortController();
    setState((s) =>
      s.key === key ? { ...s, loading: s.data === null } : { key, data: keepPrevious ? s.data : null, error: null, loading: true },
    );
    fetchRef.current(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ key, data, error: null, loading: false });
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        const msg = describeRef.current ? describeRef.current(e) : e instanceof Error ? e.message : String(e);
        setState((s) => ({ key, data: s.key === key || keepPrevious ? s.data : null, error: msg, loading: false }));
      },
    );
    return () => ctl.abort();
  }, [key, enabled, tick, keepPrevious]);

  useEffect(() => {
    if (!enabled || !refreshMs) return undefined;
    const id = window.setInterval(() => setTick((t) => t + 1), refreshMs);
    return () => window.clearInterval(id);
  }, [enabled, refreshMs, key]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  const current = state.key === key;
  return {
    data: current || keepPrevious ? state.data : null,
    error: current ? state.error : null,
    loading: enabled && (!current || state.loading),
    refresh,
  };
}
