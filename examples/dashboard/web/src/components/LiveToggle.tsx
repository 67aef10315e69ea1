import { formatInt } from '../lib/format';

interface Props {
  live: boolean;
  buffered: number;
  onChange: (live: boolean) => void;
}

/** Live: apply updates as they arrive. Paused: freeze the view, keep a bounded buffer. */
export function LiveToggle({ live, buffered, onChange }: Props) {
  return (
    <button
      type="button"
      className={`toggle ${live ? 'is-live' : 'is-paused'}`}
      aria-pressed={live}
      data-testid="live-toggle"
      onClick={() => onChange(!live)}
      title={live ? 'pause updates' : 'resume live updates'}
    >
      {live ? (
        <>
          <i className="dot pulse" aria-hidden="true" /> Live
        </>
      ) : (
        <>
          <span aria-hidden="true">❚❚</span> Paused{buffered > 0 ? ` · ${formatInt(buffered)} buffered` : ''}
        </>
      )}
    </button>
  );
}
