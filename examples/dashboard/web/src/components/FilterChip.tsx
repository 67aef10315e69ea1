import type { Filter } from '../lib/filter';

export function FilterChip({ filter, onClear }: { filter: Filter; onClear: () => void }) {
  return (
    <span className="chip" data-testid="filter-chip">
      {filter.kind === 'user' ? 'user' : 'IP'}: <b>{filter.value}</b>
      <button type="button" className="chip-x" onClick={onClear} aria-label="clear filter" title="clear filter">
        ×
      </button>
    </span>
  );
}
