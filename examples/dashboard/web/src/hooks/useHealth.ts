import { api } from '../lib/api';
import type { Health } from '../types';
import { useQuery } from './useQuery';

const POLL_MS = 5000;

/** GET /api/health every 5 s. A failed poll keeps the last reply; null until the first one. */
export function useHealth(): Health | null {
  return useQuery('health', (signal) => api.health(signal), { refreshMs: POLL_MS }).data;
}
