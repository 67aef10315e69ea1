import { useCallback, useEffect, useState } from 'react';
import { formatView, parseView, type ViewState } from '../lib/urlstate';

/**
 * The view state, read from the page URL at start and written back to it
 * (history.replaceState: no new history entry per click) on every change,
 * so that a reload or a shared link shows the same range, filter, user and
 * alert.
 */
export function useUrlState(): [ViewState, (change: Partial<ViewState>) => void] {
  const [view, setView] = useState<ViewState>(() => parseView(window.location.search));
  useEffect(() => {
    const search = formatView(view, window.location.search);
    if (search !== window.location.search) {
      window.history.replaceState(window.history.state, '', `${window.location.pathname}${search}${window.location.hash}`);
    }
  }, [view]);
  const update = useCallback((change: Partial<ViewState>) => setView((v) => ({ ...v, ...change })), []);
  return [view, update];
}
