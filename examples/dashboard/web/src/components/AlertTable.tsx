import { Fragment, memo } from 'react';
import { otherTags, tacticsOf, techniquesOf } from '../lib/attack';
import { formatAgo, formatClock, formatInt } from '../lib/format';
import type { Alert } from '../types';
import { SeverityPill } from './SeverityPill';

export interface AttackFilter {
  tactic: string | null;
  technique: string | null;
}

interface Props {
  /** the alerts to list (filtered) */
  alerts: Alert[];
  /** all the alerts the table could list */
  total: number;
  now: number;
  onAck: (id: string) => void;
  onPick: (value: string) => void;
  /** the selected (open) alert, kept in the URL */
  selected: string | null;
  onSelect: (id: string | null) => void;
  maxRows?: number;
  /** the ATT&CK filter (in the URL) and its options, from the alerts present */
  attack?: AttackFilter;
  attackOptions?: { tactics: string[]; techniques: string[] };
  onAttack?: (change: Partial<AttackFilter>) => void;
  /** whether silenced alerts are listed, and how many there are */
  showSilenced?: boolean;
  silencedCount?: number;
  onShowSilenced?: (show: boolean) => void;
  /** silence the alerts of this rule and key (opens the silence form) */
  onSilence?: (rule: string, key: string) => void;
  /** the tooltip of a silenced mark, from the silence's ID */
  describeSilence?: (id: string) => string;
}

/** A select that keeps the current value as an option even when no alert has it now. */
function OptionSelect({ label, testId, value, options, onChange, render = (v) => v }: {
  label: string;
  testId: string;
  value: string | null;
  options: string[];
  onChange: (v: string | null) => void;
  render?: (v: string) => string;
}) {
  const all = value && !options.includes(value) ? [value, ...options] : options;
  return (
    <label className="muted small">
      {label}{' '}
      <select data-testid={testId} value={value ?? ''} onChange={(e) => onChange(e.target.value || null)} className={value ? 'on' : ''}>
        <option value="">any</option>
        {all.map((t) => (
          <option key={t} value={t}>
            {render(t)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** An alert's ATT&CK tags, compactly: technique chips (a click filters by one), then the tactics. */
function AttackTags({ tags, onTechnique }: { tags: string[] | null | undefined; onTechnique?: (t: string) => void }) {
  if (!tags || tags.length === 0) return <span className="muted">—</span>;
  const techniques = techniquesOf(tags);
  const tactics = tacticsOf(tags);
  const other = otherTags(tags);
  return (
    <span className="tags" title={tags.join('\n')}>
      {techniques.map((t) =>
        onTechnique ? (
          <button key={t} type="button" className="tag-chip" data-testid="alert-technique" onClick={() => onTechnique(t)} title={`filter by ${t}`}>
            {t}
          </button>
        ) : (
          <span key={t} className="tag-chip" data-testid="alert-technique">
            {t}
          </span>
        ),
      )}
      {tactics.length > 0 ? (
        <span className="muted small" data-testid="alert-tactics">
          {tactics.join(', ')}
        </span>
      ) : null}
      {other.length > 0 ? <span className="muted small">+{other.length}</span> : null}
    </span>
  );
}

/** Alerts, firing first and newest first, with severity colours and an Acknowledge button. */
export const AlertTable = memo(function AlertTable({
  alerts,
  total,
  now,
  onAck,
  onPick,
  selected,
  onSelect,
  maxRows = 100,
  attack,
  attackOptions,
  onAttack,
  showSilenced = false,
  silencedCount = 0,
  onShowSilenced,
  onSilence,
  describeSilence = (id) => `silenced by ${id}`,
}: Props) {
  const open = selected;
  const rows = alerts.slice(0, maxRows);
  const firing = alerts.filter((a) => a.status === 'firing').length;
  const filtered = Boolean(attack?.tactic || attack?.technique);
  return (
    <section className="panel alerts-panel" data-testid="alert-table">
      <header className="panel-head">
        <h2>Alerts</h2>
        <span className="muted" data-testid="alert-count">
          {formatInt(firing)} firing · {formatInt(alerts.length)}
          {alerts.length !== total ? ` of ${formatInt(total)}` : ''} shown
        </span>
        <div className="alert-filters">
          {attack && onAttack ? (
            <>
              <OptionSelect
                label="tactic"
                testId="filter-tactic"
                value={attack.tactic}
                options={attackOptions?.tactics ?? []}
                onChange={(v) => onAttack({ tactic: v })}
              />
              <OptionSelect
                label="technique"
                testId="filter-technique"
                value={attack.technique}
                options={attackOptions?.techniques ?? []}
                onChange={(v) => onAttack({ technique: v })}
                render={(t) => (t.includes('.') ? `\u00a0\u00a0${t}` : t)}
              />
              {filtered ? (
                <button type="button" className="btn small ghost" onClick={() => onAttack({ tactic: null, technique: null })} data-testid="filter-attack-clear">
                  clear
                </button>
              ) : null}
            </>
          ) : null}
          {onShowSilenced ? (
            <label className="muted small check" title="silenced alerts are not sent live: they are read from GET /api/alerts?silenced=true">
              <input type="checkbox" checked={showSilenced} onChange={(e) => onShowSilenced(e.target.checked)} data-testid="show-silenced" />
              show silenced{silencedCount > 0 ? ` (${formatInt(silencedCount)})` : ''}
            </label>
          ) : null}
        </div>
      </header>
      {rows.length === 0 ? (
        <div className="empty">{filtered && total > 0 ? 'no alerts with this ATT&CK filter' : 'no alerts'}</div>
      ) : (
        <div className="table-scroll">
          <table className="alerts">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Rule</th>
                <th>ATT&amp;CK</th>
                <th>Key</th>
                <th className="num">Count</th>
                <th className="num">Risk</th>
                <th>Status</th>
                <th>Last seen</th>
                <th>Message</th>
                <th aria-label="actions" />
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <Fragment key={a.id}>
                  <tr
                    className={`alert-row sev-row-${a.severity} ${a.status} ${a.acked ? 'acked' : ''} ${a.silencedBy ? 'silenced' : ''}`}
                    data-testid="alert-row"
                    data-alert-id={a.id}
                    data-acked={a.acked ? 'true' : 'false'}
                    data-status={a.status}
                    data-silenced={a.silencedBy ? 'true' : 'false'}
                    data-selected={open === a.id ? 'true' : 'false'}
                  >
                    <td>
                      <SeverityPill severity={a.severity} />
                    </td>
                    <td>
                      <button
                        type="button"
                        className="linklike muted-link"
                        aria-expanded={open === a.id}
                        onClick={() => onSelect(open === a.id ? null : a.id)}
                        title="show contributing events"
                        data-testid="alert-open"
                      >
                        {open === a.id ? '▾' : '▸'} {a.rule}
                      </button>
                    </td>
                    <td>
                      <AttackTags tags={a.tags} onTechnique={onAttack ? (t) => onAttack({ technique: t }) : undefined} />
                    </td>
                    <td>
                      <button type="button" className="linklike key" onClick={() => onPick(a.key)} title={`filter by ${a.key}`}>
                        {a.key}
                      </button>
                    </td>
                    <td className="num">{formatInt(a.count)}</td>
                    <td className="num">{formatInt(a.riskScore)}</td>
                    <td>
                      <span className={`status status-${a.status}`}>{a.status}</span>
                      {a.silencedBy ? (
                        <span className="silenced-mark" title={describeSilence(a.silencedBy)} data-testid="alert-silenced">
                          silenced
                        </span>
                      ) : null}
                    </td>
                    <td title={a.lastSeen}>{formatAgo(a.lastSeen, now)}</td>
                    <td className="msg" title={a.message}>
                      {a.message}
                    </td>
                    <td className="actions">
                      <button
                        type="button"
                        className={`btn small ${a.acked ? 'done' : ''}`}
                        data-testid="alert-ack"
                        disabled={a.acked}
                        onClick={() => onAck(a.id)}
                      >
                        {a.acked ? '✓ Acknowledged' : 'Acknowledge'}
                      </button>
                      {onSilence ? (
                        <button
                          type="button"
                          className="btn small ghost"
                          data-testid="alert-silence"
                          title={`silence rule="${a.rule}" key="${a.key}"`}
                          onClick={() => onSilence(a.rule, a.key)}
                        >
                          Silence…
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {open === a.id ? (
                    <tr className="alert-detail">
                      <td colSpan={10}>
                        <div className="detail">
                          <span>
                            first seen {formatClock(a.firstSeen)} · last seen {formatClock(a.lastSeen)} · value{' '}
                            {formatInt(a.value)} / threshold {formatInt(a.threshold)} · id <code>{a.id}</code>
                            {a.tags && a.tags.length > 0 ? (
                              <>
                                {' '}
                                · tags <code>{a.tags.join(' ')}</code>
                              </>
                            ) : null}
                            {a.silencedBy ? (
                              <>
                                {' '}
                                · silenced by <code>{a.silencedBy}</code>
                              </>
                            ) : null}
                          </span>
                          {(a.events ?? []).length === 0 ? (
                            <span className="muted">no contributing events attached</span>
                          ) : (
                            <ul>
                              {(a.events ?? []).map((e, i) => (
                                <li key={i}>
                                  {formatClock(e.timestamp)} <b>{e.eventType}</b>{' '}
                                  <button type="button" className="linklike" onClick={() => onPick(e.userId)}>
                                    {e.userId}
                                  </button>
                                  {e.ipAddress ? (
                                    <>
                                      {' '}
                                      from{' '}
                                      <button type="button" className="linklike" onClick={() => onPick(e.ipAddress as string)}>
                                        {e.ipAddress}
                                      </button>
                                    </>
                                  ) : null}
                                </li>
                              ))}
                            </ul>
                          )}
                        </div>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
          {alerts.length > rows.length ? (
            <div className="muted small more">{formatInt(alerts.length - rows.length)} more not shown</div>
          ) : null}
        </div>
      )}
    </section>
  );
});

