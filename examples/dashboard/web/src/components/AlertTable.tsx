import { Fragment, memo, useMemo, useState } from 'react';
import { attackOptions, matchesAttack, techniquesOf } from '../lib/attack';
import { formatAgo, formatClock, formatInt } from '../lib/format';
import type { Alert } from '../types';
import { SeverityPill } from './SeverityPill';

interface Props {
  alerts: Alert[];
  total: number;
  now: number;
  onAck: (id: string) => void;
  onPick: (value: string) => void;
  /** the selected (open) alert, kept in the URL */
  selected: string | null;
  onSelect: (id: string | null) => void;
  maxRows?: number;
  /** silence the alerts of this rule and key (opens the silence form) */
  onSilence?: (rule: string, key: string) => void;
}

/** Alerts, firing first and newest first, with severity colours and an Acknowledge button. */
export const AlertTable = memo(function AlertTable({ alerts: all, total, now, onAck, onPick, selected, onSelect, maxRows = 100, onSilence }: Props) {
  const open = selected;
  const [tactic, setTactic] = useState<string | null>(null);
  const [technique, setTechnique] = useState<string | null>(null);
  const options = useMemo(() => attackOptions(all), [all]);
  const alerts = useMemo(() => all.filter((a) => matchesAttack(a.tags, tactic, technique)), [all, tactic, technique]);
  const rows = alerts.slice(0, maxRows);
  const firing = alerts.filter((a) => a.status === 'firing').length;
  return (
    <section className="panel alerts-panel" data-testid="alert-table">
      <header className="panel-head">
        <h2>Alerts</h2>
        <span className="muted">
          {formatInt(firing)} firing · {formatInt(alerts.length)}
          {alerts.length !== total ? ` of ${formatInt(total)}` : ''} shown
        </span>
        <label className="muted small">
          tactic{' '}
          <select data-testid="filter-tactic" value={tactic ?? ''} onChange={(e) => setTactic(e.target.value || null)}>
            <option value="">any</option>
            {options.tactics.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="muted small">
          technique{' '}
          <select data-testid="filter-technique" value={technique ?? ''} onChange={(e) => setTechnique(e.target.value || null)}>
            <option value="">any</option>
            {options.techniques.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
      </header>
      {rows.length === 0 ? (
        <div className="empty">no alerts</div>
      ) : (
        <div className="table-scroll">
          <table className="alerts">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Rule</th>
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
                    className={`alert-row sev-row-${a.severity} ${a.status} ${a.acked ? 'acked' : ''}`}
                    data-testid="alert-row"
                    data-alert-id={a.id}
                    data-acked={a.acked ? 'true' : 'false'}
                    data-status={a.status}
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
                      {techniquesOf(a.tags).map((t) => (
                        <span key={t} className="chip small" data-testid="alert-technique">
                          {t}
                        </span>
                      ))}
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
                        <span className="chip small muted" title={`silenced by ${a.silencedBy}`} data-testid="alert-silenced">
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
                        <button type="button" className="btn small" data-testid="alert-silence" onClick={() => onSilence(a.rule, a.key)}>
                          Silence…
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {open === a.id ? (
                    <tr className="alert-detail">
                      <td colSpan={9}>
                        <div className="detail">
                          <span>
                            first seen {formatClock(a.firstSeen)} · last seen {formatClock(a.lastSeen)} · value{' '}
                            {formatInt(a.value)} / threshold {formatInt(a.threshold)} · id <code>{a.id}</code>
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

