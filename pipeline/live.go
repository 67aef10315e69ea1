package pipeline

import (
	"time"

	"github.com/rdr-go/rdr/aggregate"
)

// LiveMetrics is the "metrics" message the processor sends its Broadcaster
// each time a window fires. In JSON:
//
//	{"windowStart":"…","windowEnd":"…","eventsPerSecond":412,"byType":{"login_failed":3,…},
//	 "totalEvents":123456,"activeUsers":812,"openAlerts":2,"topEventTypes":[{"key":…,"count":…}],
//	 "topUsers":[…],"topIPs":[…],"bySeverity":{"low":…},"invalidEvents":0,"lateEvents":0}
//
// The window fields describe the window that just fired; activeUsers, the
// top lists and bySeverity cover LiveRange up to its end; the totals count
// since the processor started.
type LiveMetrics struct {
	WindowStart     time.Time            `json:"windowStart"`
	WindowEnd       time.Time            `json:"windowEnd"`
	EventsPerSecond float64              `json:"eventsPerSecond"`
	ByType          map[string]uint64    `json:"byType"`
	TotalEvents     uint64               `json:"totalEvents"`
	ActiveUsers     uint64               `json:"activeUsers"`
	OpenAlerts      int                  `json:"openAlerts"`
	TopEventTypes   []aggregate.KeyCount `json:"topEventTypes"`
	TopUsers        []aggregate.KeyCount `json:"topUsers"`
	TopIPs          []aggregate.KeyCount `json:"topIPs"`
	BySeverity      aggregate.BySeverity `json:"bySeverity"`
	InvalidEvents   uint64               `json:"invalidEvents"`
	LateEvents      uint64               `json:"lateEvents"`
}

// liveMetrics builds the message for window m. p.mu must be held.
func (p *Processor) liveMetrics(m aggregate.Metrics) LiveMetrics {
	lm := LiveMetrics{
		WindowStart:     m.From,
		WindowEnd:       m.To,
		EventsPerSecond: m.EventsPerSecond,
		ByType:          m.ByType,
		TotalEvents:     p.stats.events.Load(),
		OpenAlerts:      len(p.openAlerts),
		InvalidEvents:   p.stats.invalid.Load(),
		LateEvents:      p.stats.late.Load(),
	}
	var view MetricsReader = p.series
	if p.cfg.View != nil {
		view = p.cfg.View
	}
	span, err := view.Metrics(m.To.Add(-p.cfg.LiveRange), m.To)
	if err != nil {
		span = m
	}
	lm.ActiveUsers = span.ActiveUsers
	lm.TopEventTypes = span.TopEventTypes
	lm.TopUsers = span.TopUsers
	lm.TopIPs = span.TopIPs
	lm.BySeverity = span.BySeverity
	return lm
}
