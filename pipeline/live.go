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

// liveDraft is a window's live message before its range figures: those
// merge up to LiveRange of windows (milliseconds of work), so they are
// filled in by emit, outside the processor's lock.
type liveDraft struct {
	msg    LiveMetrics
	window aggregate.Metrics
}

// liveDraft starts the message for window m. p.mu must be held.
func (p *Processor) liveDraft(m aggregate.Metrics) liveDraft {
	return liveDraft{window: m, msg: LiveMetrics{
		WindowStart:     m.From,
		WindowEnd:       m.To,
		EventsPerSecond: m.EventsPerSecond,
		ByType:          m.ByType,
		TotalEvents:     p.stats.events.Load(),
		OpenAlerts:      len(p.openAlerts),
		InvalidEvents:   p.stats.invalid.Load(),
		LateEvents:      p.stats.late.Load(),
	}}
}

// finish fills in the range figures from the view (or the processor's own
// windows); should that fail, the window's own figures stand in.
func (p *Processor) finish(d liveDraft) LiveMetrics {
	var view MetricsReader = p.series
	if p.cfg.View != nil {
		view = p.cfg.View
	}
	span, err := view.Metrics(d.window.To.Add(-p.cfg.LiveRange), d.window.To)
	if err != nil {
		span = d.window
	}
	lm := d.msg
	lm.ActiveUsers = span.ActiveUsers
	lm.TopEventTypes = span.TopEventTypes
	lm.TopUsers = span.TopUsers
	lm.TopIPs = span.TopIPs
	lm.BySeverity = span.BySeverity
	return lm
}
