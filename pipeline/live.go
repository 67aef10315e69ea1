package pipeline

import (
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"

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
// top lists and bySeverity cover LiveRange up to the end of the newest
// window published with it (windows that fire together — a backlog, a
// replay — carry the same range figures, those as of the newest); the
// totals count since the processor started.
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

// liveView is the processor's own view of its windows: every task's
// window results, merged per window ([aggregate.Global], one source per
// task), for Processor.Metrics and User and for the live metrics. A window
// goes out to the Broadcaster once every task holding input has passed it
// (the least watermark of the tasks that are not idle), merged over the
// tasks.
type liveView struct {
	p     *Processor
	local *aggregate.Global

	mu      sync.Mutex         // guards pending; held while publishing, so windows go out in order
	pending map[int64]struct{} // starts (Unix ns) of windows fired and not yet published
}

func newLiveView(p *Processor) (*liveView, error) {
	local, err := aggregate.NewGlobal(aggregate.GlobalConfig{
		Window: p.cfg.Window, Size: p.cfg.Series.Size, Set: p.setCfg, MaxSources: aggregate.MaxGlobalSources, KeepUsers: true,
	})
	if err != nil {
		return nil, err
	}
	return &liveView{p: p, local: local, pending: map[int64]struct{}{}}, nil
}

// put records a window result of task t. The caller holds t.mu.
func (v *liveView) put(t *task, start time.Time, set *aggregate.Set, update bool) {
	if err := v.local.Put(t.name, start, set); err != nil {
		v.p.cfg.Logger.Debug("window too old for the live view", watermill.LogFields{"task": t.name, "window": start, "err": err})
		return
	}
	if update || v.p.cfg.Hub == nil {
		return
	}
	v.mu.Lock()
	v.pending[start.UnixNano()] = struct{}{}
	v.mu.Unlock()
}

// publishDue sends the Broadcaster the windows that every active task has
// passed, oldest first.
func (v *liveView) publishDue() {
	if v.p.cfg.Hub == nil {
		return
	}
	wm := v.p.watermark()
	if wm.IsZero() {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var due []int64
	for start := range v.pending {
		if end := start + int64(v.p.cfg.Window); end-int64(time.Millisecond) <= wm.UnixNano() {
			due = append(due, start)
		}
	}
	if len(due) == 0 {
		return
	}
	slices.Sort(due)
	// The range figures (active users, top lists over LiveRange) are
	// merged once, up to the newest window due, and sent with each: a
	// backlog makes many windows due at once, and merging LiveRange's
	// windows for each made the live view most of a backfill's CPU.
	var span *aggregate.Metrics
	last := time.Unix(0, due[len(due)-1]).UTC().Add(v.p.cfg.Window)
	var view MetricsReader = v.local
	if v.p.cfg.View != nil {
		view = v.p.cfg.View
	}
	if m, err := view.Metrics(last.Add(-v.p.cfg.LiveRange), last); err == nil {
		span = &m
	}
	for _, start := range due {
		delete(v.pending, start)
		from := time.Unix(0, start).UTC()
		m, err := v.local.Metrics(from, from.Add(v.p.cfg.Window))
		if err != nil {
			continue
		}
		v.p.hubPublish(TopicMetrics, v.p.liveMetrics(m, span))
	}
}

// liveMetrics is the live message for window m, with the range figures
// of span (those up to the newest window sent with it); without span, the
// window's own figures stand in.
func (p *Processor) liveMetrics(m aggregate.Metrics, span *aggregate.Metrics) LiveMetrics {
	if span == nil {
		span = &m
	}
	return LiveMetrics{
		WindowStart:     m.From,
		WindowEnd:       m.To,
		EventsPerSecond: float64(m.TotalEvents) / m.To.Sub(m.From).Seconds(),
		ByType:          m.ByType,
		TotalEvents:     p.stats.events.Load(),
		OpenAlerts:      p.openAlerts(),
		InvalidEvents:   p.stats.invalid.Load(),
		LateEvents:      p.stats.late.Load(),
		ActiveUsers:     span.ActiveUsers,
		TopEventTypes:   span.TopEventTypes,
		TopUsers:        span.TopUsers,
		TopIPs:          span.TopIPs,
		BySeverity:      span.BySeverity,
	}
}
