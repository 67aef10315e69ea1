import { useState } from 'react';
import { useQuery } from '../hooks/useQuery';
import { api, type ReloadOutcome } from '../lib/api';
import { techniquesOf } from '../lib/attack';
import { formatAgo, formatDateTime, formatInt, toMillis } from '../lib/format';
import { DEFAULT_RULE_SORT, nextSort, reloadSummary, sortRules, type RuleSort, type RuleSortKey } from '../lib/rules';
import type { ReloadResult, RuleStats, RulesResponse } from '../types';
import { QueryState } from './QueryState';
import { SeverityPill } from './SeverityPill';
import { WithNow } from './WithNow';

const RULES_REFRESH_MS = 5000;

const COUNTERS: { key: keyof RuleStats; label: string; title: string }[] = [
  { key: 'matched', label: 'Matched', title: 'events that passed the filter and reached the detector' },
  { key: 'skipped', label: 'Skipped', title: 'events that passed the filter but lacked the group-by field or a field the detector reads' },
  { key: 'detections', label: 'Detections', title: "the detector's reports" },
  { key: 'fired', label: 'Fired', title: 'alerts fired' },
  { key: 'updated', label: 'Updated', title: 'updates of firing alerts' },
  { key: 'resolved', label: 'Resolved', title: 'alerts resolved' },
  { key: 'suppressed', label: 'Suppressed', title: 'detections suppressed (cool-down, risk only)' },
  { key: 'firing', label: 'Firing', title: 'alerts firing now' },
  { key: 'keys', label: 'Keys', title: 'keys the detector holds state for' },
];

/** A column head that sorts the table by its column. */
function SortHead({ k, label, title, sort, onSort, num = false }: {
  k: RuleSortKey;
  label: string;
  title?: string;
  sort: RuleSort;
  onSort: (k: RuleSortKey) => void;
  num?: boolean;
}) {
  const on = sort.key === k;
  return (
    <th className={num ? 'num' : ''} aria-sort={on ? (sort.desc ? 'descending' : 'ascending') : 'none'} title={title}>
      <button type="button" className={`linklike sort ${on ? 'on' : ''}`} onClick={() => onSort(k)} data-testid={`rules-sort-${k}`}>
        {label}
        {on ? (sort.desc ? ' ▾' : ' ▴') : ''}
      </button>
    </th>
  );
}

/** The latest load: when, why, ok or the refusal verbatim, and what changed. */
function LastLoad({ r }: { r: ReloadResult }) {
  const list = (label: string, xs: string[] | null | undefined) =>
    xs && xs.length > 0 ? (
      <span>
        {label} <code>{xs.join(', ')}</code>
      </span>
    ) : null;
  return (
    <div className={`reload ${r.ok ? 'ok' : 'refused'}`} data-testid="rules-reload-result" data-ok={r.ok ? 'true' : 'false'} data-trigger={r.trigger} data-at={r.at}>
      <div className="reload-line">
        <b className={r.ok ? 'status-resolved' : 'status-firing'} data-testid="rules-reload-status">
          {r.ok ? 'ok' : 'refused'}
        </b>
        <span>
          {r.trigger} · <WithNow>{(now) => <time title={r.at}>{formatDateTime(r.at)} ({formatAgo(r.at, now)})</time>}</WithNow>
        </span>
        <span className="muted">{reloadSummary(r)}</span>
        {r.files && r.files.length > 0 ? <span className="muted">files {r.files.join(', ')}</span> : <span className="muted">default rule set</span>}
      </div>
      {r.ok ? (
        <div className="reload-line small">
          {list('added', r.added)}
          {list('removed', r.removed)}
          {list('changed', r.changed)}
        </div>
      ) : (
        <pre className="raw reload-error" data-testid="rules-reload-error">
          {r.error}
        </pre>
      )}
    </div>
  );
}

/** The newer of two loads (the reply to our POST, or the latest the server lists). */
function newer(a: ReloadResult | null | undefined, b: ReloadResult | null | undefined): ReloadResult | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return toMillis(b.at) > toMillis(a.at) ? b : a;
}

/** The running rules with their counters, sortable; the latest load; Reload rules. */
export function RulesPage() {
  const q = useQuery<RulesResponse>('rules', (signal) => api.rules(signal), { refreshMs: RULES_REFRESH_MS, keepPrevious: true });
  const [sort, setSort] = useState<RuleSort>(DEFAULT_RULE_SORT);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<ReloadOutcome | null>(null);
  const [postError, setPostError] = useState<string | null>(null);
  const reload = async () => {
    setBusy(true);
    setPostError(null);
    try {
      setOutcome(await api.reloadRules());
      q.refresh();
    } catch (e) {
      setPostError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const last = newer(outcome?.reload, q.data?.reload);
  const rules = q.data?.rules ?? outcome?.rules ?? [];
  const firing = rules.reduce((n, r) => n + (r.stats?.firing ?? 0), 0);
  return (
    <div className="grid" data-testid="rules-page">
      <section className="panel">
        <header className="panel-head">
          <h2>Latest rule load</h2>
          <button type="button" className="btn" onClick={reload} disabled={busy} data-testid="rules-reload">
            {busy ? 'Reloading…' : 'Reload rules'}
          </button>
        </header>
        {postError ? (
          <div className="notice" role="alert" data-testid="rules-reload-failed">
            reload: {postError}
          </div>
        ) : null}
        {last ? <LastLoad r={last} /> : <div className="empty">{q.error ?? 'loading…'}</div>}
      </section>

      <section className="panel" data-testid="rules-panel">
        <header className="panel-head">
          <h2>Rules</h2>
          <span className="muted">
            {formatInt(rules.length)} running · {formatInt(firing)} alerts firing · counters since the start, every {RULES_REFRESH_MS / 1000} s
            {q.error && q.data ? ` · refresh failed: ${q.error}` : ''}
          </span>
        </header>
        <QueryState query={q} isEmpty={(d) => (d.rules ?? []).length === 0} empty="no rules">
          {(d) => (
            <div className="table-scroll tall">
              <table className="alerts rules">
                <thead>
                  <tr>
                    <SortHead k="name" label="Rule" sort={sort} onSort={(k) => setSort(nextSort(sort, k))} />
                    <th>Type</th>
                    <SortHead k="severity" label="Severity" sort={sort} onSort={(k) => setSort(nextSort(sort, k))} />
                    <th>Group by</th>
                    <th>ATT&amp;CK</th>
                    {COUNTERS.map((c) => (
                      <SortHead key={c.key} k={c.key} label={c.label} title={c.title} sort={sort} onSort={(k) => setSort(nextSort(sort, k))} num />
                    ))}
                    <th>Source</th>
                  </tr>
                </thead>
                <tbody>
                  {sortRules(d.rules ?? [], sort).map((r) => (
                    <tr
                      key={r.name}
                      className={`rule-row ${(r.stats?.firing ?? 0) > 0 ? 'has-firing' : ''}`}
                      data-testid="rule-row"
                      data-rule={r.name}
                      data-fired={r.stats?.fired ?? 0}
                      data-matched={r.stats?.matched ?? 0}
                    >
                      <td className="rule-name" title={r.description}>
                        <b>{r.name}</b>
                        {r.riskOnly ? <span className="tag-chip muted" title="adds risk, raises no alerts">risk only</span> : null}
                        {r.description ? <div className="muted small desc">{r.description}</div> : null}
                      </td>
                      <td>{r.type}</td>
                      <td>
                        <SeverityPill severity={r.severity} />
                      </td>
                      <td className="key">{r.groupBy || '—'}</td>
                      <td title={(r.tags ?? []).join('\n')}>
                        {techniquesOf(r.tags).map((t) => (
                          <span key={t} className="tag-chip">
                            {t}
                          </span>
                        ))}
                      </td>
                      {COUNTERS.map((c) => (
                        <td key={c.key} className={`num ${c.key === 'fired' && (r.stats?.fired ?? 0) > 0 ? 'strong' : ''}`} data-testid={`rule-${c.key}`}>
                          {r.stats ? formatInt(r.stats[c.key]) : '—'}
                        </td>
                      ))}
                      <td className="muted">{r.source}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </QueryState>
      </section>
    </div>
  );
}
