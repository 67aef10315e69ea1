import { useState } from 'react';
import { toDateTimeLocal } from '../lib/format';
import { RANGES, type TimeRange } from '../lib/urlstate';

interface Props {
  time: TimeRange;
  onChange: (t: TimeRange) => void;
}

/** The view's one time range: a relative one ending now, or a fixed start and stop. */
export function RangePicker({ time, onChange }: Props) {
  const fixed = 'start' in time;
  const [custom, setCustom] = useState(fixed);
  const [draft, setDraft] = useState(() => {
    if (fixed) return { start: toDateTimeLocal(time.start.getTime()), stop: toDateTimeLocal(time.stop.getTime()) };
    const now = Date.now();
    return { start: toDateTimeLocal(now - 3600_000), stop: toDateTimeLocal(now) };
  });
  const invalid = !draft.start || !draft.stop || Date.parse(draft.start) >= Date.parse(draft.stop);
  return (
    <div className="range-picker" data-testid="range-picker" data-range={fixed ? 'custom' : time.range}>
      <div className="segmented" role="group" aria-label="time range">
        {RANGES.map((r) => {
          const on = !custom && !fixed && time.range === r;
          return (
            <button
              key={r}
              type="button"
              className={on ? 'on' : undefined}
              aria-pressed={on}
              data-testid={`range-${r}`}
              onClick={() => {
                setCustom(false);
                onChange({ range: r });
              }}
            >
              {r}
            </button>
          );
        })}
        <button type="button" className={custom ? 'on' : undefined} aria-pressed={custom} onClick={() => setCustom(true)}>
          custom
        </button>
      </div>
      {custom ? (
        <form
          className="controls custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            if (!invalid) onChange({ start: new Date(draft.start), stop: new Date(draft.stop) });
          }}
        >
          <label>
            start{' '}
            <input type="datetime-local" value={draft.start} onChange={(e) => setDraft({ ...draft, start: e.target.value })} />
          </label>
          <label>
            stop{' '}
            <input type="datetime-local" value={draft.stop} onChange={(e) => setDraft({ ...draft, stop: e.target.value })} />
          </label>
          <button type="submit" className="btn small" disabled={invalid}>
            apply
          </button>
          {invalid ? <span className="muted small">start must be before stop</span> : null}
        </form>
      ) : null}
    </div>
  );
}
