import { useEffect, useState } from 'react';
import { api } from '../lib/api';
import type { Health } from '../types';

const POLL_MS = 5000;

/** GET /api/health every 5 s. A failed poll keeps the last reply; null until the first one. */
export function useHealth(): Health | null {
  const [health, setHealth] = useState<Health | null>(null);

  useEffect(() => {
    let ctl: AbortController | null = null;
    const poll = () => {
      ctl?.abort(); // a poll still out after 5 s has hung: give up on it
      const c = new AbortController();
      ctl = c;
      api.health(c.signal).then(
        (h) => {
          if (h && !c.signal.aborted) setHealth(h);
        },
        () => {},
      );
    };
    poll();
    const id = window.setInterval(poll, POLL_MS);
    return () => {
      window.clearInterval(id);
      ctl?.abort();
    };
  }, []);

  return health;
}
