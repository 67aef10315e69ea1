// Fixtures shared by the unit tests (not imported by the app).

import type { Alert, Metrics, SecurityEvent } from '../types';

export function metrics(sec: number, over: Partial<Metrics> = {}): Metrics {
  const end = new Date(Date.UTC(2026, 0, 1, 0, 0, sec)).toISOString();
  const start = new Date(Date.UTC(2026, 0, 1, 0, 0, sec - 1)).toISOString();
  return {
    windowStart: start,
    windowEnd: end,
    eventsPerSecond: 10,
    byType: { login_failed: 2, file_access: 8 },
    totalEvents: sec * 10,
    activeUsers: 5,
    openAlerts: 0,
    topEventTypes: [],
    topUsers: [],
    topIPs: [],
    bySeverity: {},
    ...over,
  };
}

export function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    rule: 'brute_force',
    key: 'u-1',
    severity: 'high',
    riskScore: 70,
    status: 'firing',
    firstSeen: '2026-01-01T00:00:00Z',
    lastSeen: '2026-01-01T00:00:01Z',
    count: 5,
    value: 5,
    threshold: 5,
    message: 'm',
    events: [],
    acked: false,
    ...over,
  };
}

export function event(user: string, over: Partial<SecurityEvent> = {}): SecurityEvent {
  return {
    timestamp: '2026-01-01T00:00:00Z',
    eventType: 'login_failed',
    userId: user,
    ipAddress: '10.0.0.1',
    severity: 'low',
    ...over,
  };
}

