// Wire types of the dashboard API (see DESIGN.md "Reference app").

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export interface SecurityEvent {
  timestamp: string;
  eventType: string;
  userId: string;
  ipAddress?: string;
  severity: Severity;
  metadata?: Record<string, unknown>;
}

export interface KeyCount {
  key: string;
  count: number;
}

export interface Alert {
  id: string;
  rule: string;
  key: string;
  severity: Severity;
  riskScore: number;
  status: 'firing' | 'resolved';
  firstSeen: string;
  lastSeen: string;
  count: number;
  value: number;
  threshold: number;
  message: string;
  events?: SecurityEvent[] | null;
  acked: boolean;
  /** the rule's tags, e.g. attack.credential-access, attack.t1110 */
  tags?: string[];
  /** the ID of the silence that matched the alert, if any */
  silencedBy?: string;
}

export interface Metrics {
  windowStart: string;
  windowEnd: string;
  eventsPerSecond: number;
  byType: Record<string, number>;
  totalEvents: number;
  activeUsers: number;
  openAlerts: number;
  topEventTypes: KeyCount[] | null;
  topUsers: KeyCount[] | null;
  topIPs: KeyCount[] | null;
  bySeverity: Partial<Record<Severity, number>>;
  invalidEvents?: number;
  lateEvents?: number;
}

export interface Hello {
  clientId?: string;
  /** some servers call it id */
  id?: string;
  topics: string[];
}

interface EnvelopeBase {
  ts: string;
  dropped?: number;
}

export type StreamMessage =
  | (EnvelopeBase & { type: 'hello'; data: Hello })
  | (EnvelopeBase & { type: 'metrics'; data: Metrics })
  | (EnvelopeBase & { type: 'alert'; data: Alert })
  | (EnvelopeBase & { type: 'event'; data: SecurityEvent });

/** GET /api/metrics?range=5m */
export interface MetricsSnapshot {
  from: string;
  to: string;
  totalEvents: number;
  eventsPerSecond: number;
  activeUsers: number;
  topEventTypes: KeyCount[] | null;
  bySeverity: Partial<Record<Severity, number>>;
  topUsers: KeyCount[] | null;
  topIPs: KeyCount[] | null;
  byType: Record<string, number>;
}

export interface HistoryPoint {
  t: string;
  v: number;
}

export interface HistorySeries {
  key: string;
  points: HistoryPoint[] | null;
}

/** GET /api/history */
export interface HistoryResponse {
  metric: string;
  groupBy: string;
  start: string;
  stop: string;
  interval: string;
  series: HistorySeries[] | null;
}

/** GET /api/users/{id} */
export interface UserActivity {
  userId: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  alerts: Alert[] | null;
}

export type HistoryMetric = 'events' | 'activeUsers' | 'alerts';
export type HistoryGroupBy = '' | 'eventType' | 'severity' | 'rule';

/** One sink's state in GET /api/health. */
export interface SinkHealth {
  name: string;
  degraded: boolean;
  /** points waiting to be written */
  pending: number;
  retries: number;
  blocked: number;
  failed: number;
  /** RFC 3339; null when nothing is waiting */
  oldestUnwritten: string | null;
  lastError: string;
}

/** GET /api/health */
export interface Health {
  degraded: boolean;
  sinks: SinkHealth[];
  /** null when the reply has no such count */
  deadLetters: number | null;
  late: number | null;
}

/** One refused item of GET /api/deadletters or GET /api/late. */
export interface RefusedItem {
  recorded: string;
  reason: string;
  field: string;
  /** a topic, or "http" for POST /api/events */
  sourceTopic: string;
  /** null when unknown */
  partition: number | null;
  offset: number | null;
  item: number | null;
  /** late events: the start of the window they missed; "" otherwise */
  window: string;
  /** the refused bytes, as text */
  raw: string;
}

/** GET /api/deadletters, GET /api/late */
export interface RefusedList {
  /** recorded since the process started */
  total: number;
  /** still held (the newest) */
  kept: number;
  /** newest first */
  items: RefusedItem[];
}

export type RefusedKind = 'deadletters' | 'late';

/** What a silence matcher looks at in an alert. */
export type SilenceMatcherName = 'rule' | 'key' | 'groupBy' | 'severity' | 'tag';
export const SILENCE_MATCHER_NAMES: readonly SilenceMatcherName[] = ['rule', 'key', 'groupBy', 'severity', 'tag'];
/** equal, not equal, regexp (anchored, RE2), not regexp */
export type SilenceMatcherOp = '=' | '!=' | '=~' | '!~';
export const SILENCE_MATCHER_OPS: readonly SilenceMatcherOp[] = ['=', '!=', '=~', '!~'];

export interface SilenceMatcher {
  name: SilenceMatcherName;
  op: SilenceMatcherOp;
  value: string;
}

export type SilenceState = 'active' | 'pending' | 'expired';

/** One silence of GET /api/silences (active, then pending, then expired). */
export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  /** RFC 3339 */
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  createdAt: string;
  state: SilenceState;
}

/** The body of POST /api/silences: endsAt or duration. */
export interface SilenceRequest {
  matchers: SilenceMatcher[];
  /** RFC 3339; the server's now when absent */
  startsAt?: string;
  endsAt?: string;
  /** "2h", "1d12h" */
  duration?: string;
  createdBy: string;
  comment: string;
}

/** A rule's counters in GET /api/rules (since the process started). */
export interface RuleStats {
  matched: number;
  skipped: number;
  detections: number;
  fired: number;
  updated: number;
  resolved: number;
  suppressed: number;
  /** alerts firing now */
  firing: number;
  /** keys the detector holds state for */
  keys: number;
}

/** One running rule of GET /api/rules. */
export interface Rule {
  name: string;
  description: string;
  type: string;
  severity: Severity | string;
  groupBy: string;
  tags: string[] | null;
  riskOnly: boolean;
  source: string;
  stats?: RuleStats;
}

/** How a rule load went (the latest in GET /api/rules, or POST /api/rules/reload's). */
export interface ReloadResult {
  at: string;
  ok: boolean;
  /** why the set was refused, verbatim; "" when ok */
  error: string;
  trigger: 'start' | 'api' | 'signal' | 'watch' | string;
  files: string[] | null;
  rules: number;
  added: string[] | null;
  removed: string[] | null;
  changed: string[] | null;
  unchanged: number;
}

/** GET /api/rules */
export interface RulesResponse {
  rules: Rule[] | null;
  reload: ReloadResult;
}
