import { useState } from 'react';
import { useQuery } from '../hooks/useQuery';
import { detectionApi, silenceRequest, type ReloadView } from '../lib/api';
import { formatClock, formatInt } from '../lib/format';
import { QueryState } from './QueryState';

/** The running rules with their counters, the latest load, and a Reload button. */
export function RulesPanel() {
  const q = useQuery('rules', (signal) => detectionApi.rules(signal), { refreshMs: 5000, keepPrevious: true });
  const [result, setResult] = useState<ReloadView | null>(null);
  const [busy, setBusy] = useState(false);
  const reload = async () => {
    setBusy(true);
    try {
      setResult(await detectionApi.reload());
      q.refresh();
    } finally {
      setBusy(false);
    }
  };
  const last = result ?? q.data?.reload ?? null;
  return (
    <section className="panel" data-testid="rules-panel">
      <header className="panel-head">
        <h2>Rules</h2>
        <button type="button" className="btn small" onClick={reload} disabled={busy} data-testid="rules-reload">
          Reload rules
        </button>
      </header>
      {last ? (
        <div className={`small ${last.ok ? 'muted' : 'error'}`} data-testid="rules-reload-result" data-ok={last.ok ? 'true' : 'false'}>
          {last.ok ? 'ok' : 'refused'} · {last.trigger} · {formatClock(last.at)}
          {last.ok
            ? ` · ${formatInt(last.rules)} rules, ${last.added.length} added, ${last.changed.length} changed, ${last.removed.length} removed`
            : `: ${last.error}`}
        </div>
      ) : null}
      <QueryState query={q} isEmpty={(d) => d.rules.length === 0} empty="no rules">
        {(d) => (
          <div className="table-scroll">
            <table className="alerts">
              <thead>
                <tr>
                  <th>Rule</th>
                  <th>Type</th>
                  <th>Severity</th>
                  <th className="num">Matched</th>
                  <th className="num">Fired</th>
                  <th className="num">Firing</th>
                  <th>Source</th>
                </tr>
              </thead>
              <tbody>
                {[...d.rules]
                  .sort((a, b) => (b.stats?.fired ?? 0) - (a.stats?.fired ?? 0))
                  .map((r) => (
                    <tr key={r.name} data-testid="rule-row" data-rule={r.name}>
                      <td title={r.description}>
                        {r.name}
                        {r.riskOnly ? <span className="chip small muted">risk only</span> : null}
                      </td>
                      <td>{r.type}</td>
                      <td>{r.severity}</td>
                      <td className="num">{formatInt(r.stats?.matched ?? 0)}</td>
                      <td className="num">{formatInt(r.stats?.fired ?? 0)}</td>
                      <td className="num">{formatInt(r.stats?.firing ?? 0)}</td>
                      <td className="muted">{r.source}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
    </section>
  );
}

export interface SilenceDraft {
  rule: string;
  key: string;
}

/** Silences: the list, Expire, and a form (prefilled from an alert's "Silence…"). */
export function SilencesPanel({ draft, onDone }: { draft: SilenceDraft | null; onDone: () => void }) {
  const q = useQuery('silences', (signal) => detectionApi.silences(signal), { refreshMs: 5000, keepPrevious: true });
  const [form, setForm] = useState({ rule: draft?.rule ?? '', key: draft?.key ?? '', duration: '2h', createdBy: '', comment: '' });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const create = async () => {
    const body = silenceRequest(form);
    if (typeof body === 'string') {
      setError(body);
      return;
    }
    try {
      await detectionApi.createSilence(body);
      setError(null);
      setForm({ ...form, rule: '', key: '', comment: '' });
      onDone();
      q.refresh();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const expire = async (id: string) => {
    try {
      await detectionApi.expireSilence(id);
      q.refresh();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section className="panel" data-testid="silences-panel">
      <header className="panel-head">
        <h2>Silences</h2>
      </header>
      <div className="silence-form small">
        <input placeholder="rule" value={form.rule} onChange={set('rule')} data-testid="silence-rule" />
        <input placeholder="key" value={form.key} onChange={set('key')} data-testid="silence-key" />
        <select value={form.duration} onChange={set('duration')} data-testid="silence-duration">
          {['1h', '2h', '8h', '24h', '7d'].map((d) => (
            <option key={d}>{d}</option>
          ))}
        </select>
        <input placeholder="author" value={form.createdBy} onChange={set('createdBy')} data-testid="silence-author" />
        <input placeholder="comment" value={form.comment} onChange={set('comment')} data-testid="silence-comment" />
        <button type="button" className="btn small" onClick={create} data-testid="silence-create">
          Silence
        </button>
        {error ? (
          <span className="error" role="alert" data-testid="silence-error">
            {error}
          </span>
        ) : null}
      </div>
      <QueryState query={q} isEmpty={(d) => d.silences.length === 0} empty="no silences">
        {(d) => (
          <ul className="silences">
            {d.silences.map((s) => (
              <li key={s.id} data-testid="silence-row" data-state={s.state}>
                <b>{s.state}</b> {s.matchers.map((m) => `${m.name}${m.op}"${m.value}"`).join(' ')} · until {formatClock(s.endsAt)} ·{' '}
                {s.createdBy}: {s.comment}{' '}
                {s.state !== 'expired' ? (
                  <button type="button" className="btn small" onClick={() => expire(s.id)} data-testid="silence-expire">
                    Expire
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </QueryState>
    </section>
  );
}
