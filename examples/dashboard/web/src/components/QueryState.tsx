import type { ReactNode } from 'react';
import type { QueryResult } from '../hooks/useQuery';

interface Props<T> {
  query: QueryResult<T>;
  /** true when the data has nothing to show */
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}

/** The one rendering of loading, error and empty for a useQuery result. */
export function QueryState<T>({ query, isEmpty, empty = 'no data', children }: Props<T>) {
  if (query.error && query.data === null) {
    return (
      <div className="empty error" role="alert" data-testid="query-error">
        {query.error}
      </div>
    );
  }
  if (query.data === null) return <div className="empty">loading…</div>;
  if (isEmpty?.(query.data)) return <div className="empty">{empty}</div>;
  return <>{children(query.data)}</>;
}
