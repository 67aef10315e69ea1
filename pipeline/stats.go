package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/rdr-go/rdr/aggregate"
)

// What the processor tells about itself: counters and the metrics it holds.

// MetricsReader answers getMetrics(timeRange). *Processor, *GlobalView,
// *aggregate.Series and *aggregate.Global implement it.
type MetricsReader interface {
	Metrics(from, to time.Time) (aggregate.Metrics, error)
}

// Stats returns the processor's counters. It is safe to call at any time.
func (p *Processor) Stats() Stats {
	p.tasksMu.RLock()
	tasks := len(p.tasks)
	p.tasksMu.RUnlock()
	return Stats{
		Messages:         p.stats.messages.Load(),
		Events:           p.stats.events.Load(),
		Invalid:          p.stats.invalid.Load(),
		Late:             p.stats.late.Load(),
		Windows:          p.stats.windows.Load(),
		Updates:          p.stats.updates.Load(),
		AlertsFired:      p.stats.alertsFired.Load(),
		AlertsResolved:   p.stats.alertsResolved.Load(),
		AlertsSilenced:   p.stats.alertsSilenced.Load(),
		OpenAlerts:       p.openAlerts(),
		SinkErrors:       p.stats.sinkErrors.Load(),
		Checkpoints:      p.stats.checkpoints.Load(),
		Restored:         p.stats.restored.Load(),
		CheckpointErrors: p.stats.checkpointErrors.Load(),
		RuleReloads:      p.stats.reloads.Load(),
		Tasks:            tasks,
		Watermark:        p.watermark(),
	}
}

func (p *Processor) openAlerts() int { return int(max(0, p.stats.open.Load())) }

// Metrics answers getMetrics(timeRange) from the windows the processor's
// tasks fired, merged: the ones whose start lies in [from, to).
func (p *Processor) Metrics(from, to time.Time) (aggregate.Metrics, error) {
	return p.live.local.Metrics(from, to)
}

// User returns a user's activity over the fired windows in [from, to).
func (p *Processor) User(id string, from, to time.Time) (aggregate.UserActivity, error) {
	return p.live.local.User(id, from, to)
}

// counters are the processor's own totals, readable from any goroutine.
type counters struct {
	messages, events, invalid, late, windows, updates, alertsFired, alertsResolved, sinkErrors atomic.Uint64
	checkpoints, restored, checkpointErrors, alertsSilenced, reloads                           atomic.Uint64
	open                                                                                       atomic.Int64
}

// Stats is a snapshot of the processor's counters.
type Stats struct {
	Messages         uint64    `json:"messages"`         // input messages handled
	Events           uint64    `json:"events"`           // valid events applied
	Invalid          uint64    `json:"invalid"`          // items sent to the dead-letter output
	Late             uint64    `json:"late"`             // events later than the allowed lateness
	Windows          uint64    `json:"windows"`          // window results emitted (first firings)
	Updates          uint64    `json:"updates"`          // window results re-emitted after late events
	AlertsFired      uint64    `json:"alertsFired"`      // alerts that started firing
	AlertsResolved   uint64    `json:"alertsResolved"`   // alerts resolved
	AlertsSilenced   uint64    `json:"alertsSilenced"`   // alert emissions (firing, updates, resolution) a silence muted: stored, not sent to the Hub
	OpenAlerts       int       `json:"openAlerts"`       // alerts firing now
	SinkErrors       uint64    `json:"sinkErrors"`       // failed sink writes (logged)
	Checkpoints      uint64    `json:"checkpoints"`      // task checkpoints saved
	Restored         uint64    `json:"restored"`         // partitions restored from a checkpoint
	CheckpointErrors uint64    `json:"checkpointErrors"` // checkpoints not saved, loaded or restored (logged)
	RuleReloads      uint64    `json:"ruleReloads"`      // rule sets loaded by ReloadRules
	Tasks            int       `json:"tasks"`            // partitions held now
	Watermark        time.Time `json:"watermark"`        // the least watermark of the active tasks
}
