import type { ReactNode } from 'react';
import { useNow } from '../hooks/useNow';

/**
 * Renders children with the current time, ticking once a second: the
 * ticking re-renders this subtree only, not the page.
 */
export function WithNow({ children }: { children: (now: number) => ReactNode }) {
  const now = useNow();
  return <>{children(now)}</>;
}
