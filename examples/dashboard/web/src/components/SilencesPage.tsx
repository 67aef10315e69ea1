import { useState, type FormEvent } from 'react';
import type { QueryResult } from '../hooks/useQuery';
import { api } from '../lib/api';
import { formatAgo, formatDateTime, formatDuration, formatInt, parseGoDuration, toMillis } from '../lib/format';
import {
  formatMatcher,
  SILENCE_DURATIONS,
  silenceBody,
  silenceCounts,
  silenceForm,
  type MatcherDraft,
  type SilenceDurationChoice,
  type SilenceForm,
} from '../lib/silence';
import { SILENCE_MATCHER_NAMES, SILENCE_MATCHER_OPS, type Silence, type SilenceMatcherName, type SilenceMatcherOp } from '../types';
import { QueryState } from './QueryState';
import { WithNow } from './WithNow';

/** What "Silence…" on an alert row prefills. */
export interface SilenceDraft {
  rule: string;
  key: string;
}

const AUTHOR_KEY = 'rdr.silence.author';

function rememberedAuthor(): string {
  try {
    return window.localStorage.getItem(AUTHOR_KEY) ?? '';
  } catch {
    return '';
  }
}

function rememberAuthor(a: string) {
  try {
    window.localStorage.setItem(AUTHOR_KEY, a);
  } catch {
    // private mode: nothing remembered
  }
}

const OP_TITLES: Record<SilenceMatcherOp, string> = {
  '=': 'equals',
  '!=': 'does not equal',
  '=~': 'matches the regular expression (RE2, whole value)',
  '!~': 'does not match the regular expression',
};

/** The form that makes a silence: matchers, how long, who and why. */
function SilenceFormPanel({ draft, onCreated }: { draft: SilenceDraft | null; onCreated: (s: Silence) => void }) {
  const [form, setForm] = useState<SilenceForm>(() => silenceForm(draft ?? undefined, rememberedAuthor()));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Silence | null>(null);
  const update = (change: Partial<SilenceForm>) => setForm((f) => ({ ...f, ...change }));
  const setMatcher = (i: number, change: Partial<MatcherDraft>) =>
    setForm((f) => ({ ...f, matchers: f.matchers.map((m, j) => (j === i ? { ...m, ...change } : m)) }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const b = silenceBody(form);
    if (b.error !== undefined) {
      setError(b.error);
      return;
    }
    setBusy(true);
    try {
      const s = await api.createSilence(b.body);
      rememberAuthor(b.body.createdBy);
      setError(null);
      setCreated(s);
      setForm(silenceForm(undefined, b.body.createdBy));
      onCreated(s);
    } catch (err) {
      // The server's 400 text, as it is.
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const durationMs = form.duration === 'custom' ? parseGoDuration(form.customDuration) : parseGoDuration(form.duration);
  const startMs = form.startsAt ? new Date(form.startsAt).getTime() : NaN;
  return (
    <section className="panel" data-testid="silence-form">
      <header className="panel-head">
        <h2>New silence</h2>
        <span className="muted">silenced alerts still go to the sinks, marked; they are not sent live</span>
      </header>
      <form className="silence-form" onSubmit={submit}>
        <fieldset className="matchers">
          <legend className="muted small">alerts where</legend>
          {form.matchers.map((m, i) => (
            <div className="matcher" key={i} data-testid="silence-matcher">
              <select
                aria-label={`matcher ${i + 1} name`}
                value={m.name}
                onChange={(e) => setMatcher(i, { name: e.target.value as SilenceMatcherName })}
                data-testid="silence-matcher-name"
              >
                {SILENCE_MATCHER_NAMES.map((n) => (
                  <option key={n}>{n}</option>
                ))}
              </select>
              <select
                aria-label={`matcher ${i + 1} operator`}
                value={m.op}
                title={OP_TITLES[m.op]}
                onChange={(e) => setMatcher(i, { op: e.target.value as SilenceMatcherOp })}
                data-testid="silence-matcher-op"
              >
                {SILENCE_MATCHER_OPS.map((o) => (
                  <option key={o} value={o} title={OP_TITLES[o]}>
                    {o}
                  </option>
                ))}
              </select>
              <input
                aria-label={`matcher ${i + 1} value`}
                className="matcher-value"
                value={m.value}
                placeholder={m.name === 'tag' ? 'attack.t1110' : m.name === 'severity' ? 'high' : 'value'}
                onChange={(e) => setMatcher(i, { value: e.target.value })}
                data-testid="silence-matcher-value"
              />
              <button
                type="button"
                className="chip-x"
                aria-label={`remove matcher ${i + 1}`}
                onClick={() => setForm((f) => ({ ...f, matchers: f.matchers.filter((_, j) => j !== i) }))}
              >
                ×
              </button>
            </div>
          ))}
          <button
            type="button"
            className="btn small ghost"
            onClick={() => setForm((f) => ({ ...f, matchers: [...f.matchers, { name: 'key', op: '=', value: '' }] }))}
            data-testid="silence-add-matcher"
          >
            + matcher
          </button>
        </fieldset>

        <div className="form-row">
          <span className="muted small">for</span>
          <div className="segmented" role="radiogroup" aria-label="duration" data-testid="silence-duration">
            {[...SILENCE_DURATIONS, 'custom' as const].map((d: SilenceDurationChoice) => (
              <button
                key={d}
                type="button"
                role="radio"
                aria-checked={form.duration === d}
                className={form.duration === d ? 'on' : ''}
                onClick={() => update({ duration: d })}
                data-testid={`silence-duration-${d}`}
              >
                {d}
              </button>
            ))}
          </div>
          {form.duration === 'custom' ? (
            <input
              aria-label="custom duration"
              className="short"
              placeholder="90m, 3d, 1d12h"
              value={form.customDuration}
              onChange={(e) => update({ customDuration: e.target.value })}
              data-testid="silence-custom-duration"
            />
          ) : null}
          <label className="muted small">
            starting{' '}
            <input
              type="datetime-local"
              value={form.startsAt}
              onChange={(e) => update({ startsAt: e.target.value })}
              data-testid="silence-starts"
              title="empty: now"
            />
          </label>
          <span className="muted small" data-testid="silence-ends-preview">
            {Number.isFinite(durationMs) && durationMs > 0
              ? `ends ${formatDateTime((Number.isFinite(startMs) ? startMs : Date.now()) + durationMs)} (${formatDuration(durationMs)})`
              : ''}
          </span>
        </div>

        <div className="form-row">
          <input
            aria-label="author"
            placeholder="author"
            className="short"
            value={form.createdBy}
            onChange={(e) => update({ createdBy: e.target.value })}
            data-testid="silence-author"
          />
          <input
            aria-label="comment"
            placeholder="comment: why, ticket"
            className="wide"
            value={form.comment}
            onChange={(e) => update({ comment: e.target.value })}
            data-testid="silence-comment"
          />
          <button type="submit" className="btn" disabled={busy} data-testid="silence-create">
            {busy ? 'Creating…' : 'Create silence'}
          </button>
        </div>
        {error ? (
          <div className="form-error" role="alert" data-testid="silence-error">
            {error}
          </div>
        ) : created ? (
          <div className="muted small" data-testid="silence-created">
            created silence <code>{created.id}</code> ({created.state})
          </div>
        ) : null}
      </form>
    </section>
  );
}

function Until({ s, now }: { s: Silence; now: number }) {
  const end = toMillis(s.endsAt);
  const start = toMillis(s.startsAt);
  if (s.state === 'expired') return <span title={s.endsAt}>ended {formatAgo(s.endsAt, now)}</span>;
  if (s.state === 'pending') return <span title={s.startsAt}>starts in {formatDuration(start - now)}</span>;
  return <span title={s.endsAt}>ends in {formatDuration(end - now)}</span>;
}

/** Silences: the form (prefilled by an alert's "Silence…"), the list with its states, and Expire. */
export function SilencesPage({
  query,
  draft,
  formKey,
  onChange,
}: {
  query: QueryResult<Silence[]>;
  draft: SilenceDraft | null;
  /** a new key: a fresh form (each "Silence…" click) */
  formKey: string;
  /** a silence was made or expired */
  onChange: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const [expiring, setExpiring] = useState<string | null>(null);
  const [showExpired, setShowExpired] = useState(true);
  const expire = async (id: string) => {
    setExpiring(id);
    try {
      await api.expireSilence(id);
      setError(null);
      onChange();
    } catch (e) {
      setError(`expire ${id}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setExpiring(null);
    }
  };
  const counts = silenceCounts(query.data ?? []);
  return (
    <div className="grid" data-testid="silences-page">
      <SilenceFormPanel
        key={formKey}
        draft={draft}
        onCreated={onChange}
      />
      <section className="panel" data-testid="silences-panel">
        <header className="panel-head">
          <h2>Silences</h2>
          <span className="muted" data-testid="silence-counts">
            {formatInt(counts.active)} active · {formatInt(counts.pending)} pending · {formatInt(counts.expired)} expired
          </span>
          <label className="muted small check">
            <input type="checkbox" checked={showExpired} onChange={(e) => setShowExpired(e.target.checked)} /> show expired
          </label>
        </header>
        {error ? (
          <div className="notice" role="alert">
            {error}
          </div>
        ) : null}
        <QueryState query={query} isEmpty={(d) => d.length === 0} empty="no silences">
          {(list) => (
            <div className="table-scroll tall">
              <table className="alerts silences">
                <thead>
                  <tr>
                    <th>State</th>
                    <th>Matchers</th>
                    <th>Time</th>
                    <th>Starts</th>
                    <th>Ends</th>
                    <th>By</th>
                    <th>Comment</th>
                    <th>ID</th>
                    <th aria-label="actions" />
                  </tr>
                </thead>
                <WithNow>
                  {(now) => (
                    <tbody>
                      {list
                        .filter((s) => showExpired || s.state !== 'expired')
                        .map((s) => (
                          <tr key={s.id} className={`silence-row state-${s.state}`} data-testid="silence-row" data-state={s.state} data-silence-id={s.id}>
                            <td>
                              <span className={`silence-state state-${s.state}`}>{s.state}</span>
                            </td>
                            <td className="matchers-cell">
                              {s.matchers.map((m, i) => (
                                <code key={i} className="matcher-chip">
                                  {formatMatcher(m)}
                                </code>
                              ))}
                            </td>
                            <td className="muted">
                              <Until s={s} now={now} />
                            </td>
                            <td title={s.startsAt}>{formatDateTime(s.startsAt)}</td>
                            <td title={s.endsAt}>{formatDateTime(s.endsAt)}</td>
                            <td>{s.createdBy}</td>
                            <td className="msg" title={s.comment}>
                              {s.comment}
                            </td>
                            <td>
                              <code className="muted" title={`created ${s.createdAt}`}>
                                {s.id}
                              </code>
                            </td>
                            <td className="actions">
                              {s.state !== 'expired' ? (
                                <button
                                  type="button"
                                  className="btn small"
                                  disabled={expiring === s.id}
                                  onClick={() => void expire(s.id)}
                                  data-testid="silence-expire"
                                >
                                  Expire
                                </button>
                              ) : null}
                            </td>
                          </tr>
                        ))}
                    </tbody>
                  )}
                </WithNow>
              </table>
            </div>
          )}
        </QueryState>
      </section>
    </div>
  );
}
