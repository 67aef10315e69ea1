import { useEffect, useState } from 'react';

/** A clock that ticks every ms, for "5s ago" labels: only its user re-renders. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(id);
  }, [ms]);
  return now;
}
