package pipeline

import (
	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
)

// promMetrics exposes the processor's counters to Prometheus. Counters are
// read from Stats when scraped, so the hot path only bumps atomics.
type promMetrics struct {
	collectors []prometheus.Collector
}

func newPromMetrics(p *Processor) *promMetrics {
	counter := func(name, help string, v func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rdr", Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	s := &p.stats
	m := &promMetrics{}
	m.collectors = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rdr", Name: "watermark_seconds",
			Help: "The least event-time watermark of the active tasks, as Unix seconds."}, func() float64 {
			return float64(p.watermark().UnixMilli()) / 1000
		}),
		counter("messages_total", "Input messages handled.", s.messages.Load),
		counter("events_in_total", "Valid events applied.", s.events.Load),
		counter("events_invalid_total", "Invalid input items sent to the dead-letter output.", s.invalid.Load),
		counter("events_late_total", "Events later than the allowed lateness, sent to the late output.", s.late.Load),
		counter("window_flushes_total", "Window results emitted (first firings).", s.windows.Load),
		counter("window_updates_total", "Window results re-emitted after late events.", s.updates.Load),
		counter("alerts_fired_total", "Alerts that started firing.", s.alertsFired.Load),
		counter("alerts_resolved_total", "Alerts resolved.", s.alertsResolved.Load),
		counter("sink_errors_total", "Failed writes to sinks and publishers.", s.sinkErrors.Load),
		counter("checkpoints_total", "Task checkpoints saved.", s.checkpoints.Load),
		counter("checkpoint_errors_total", "Checkpoints not saved, loaded or restored.", s.checkpointErrors.Load),
		counter("partitions_restored_total", "Partitions restored from a checkpoint.", s.restored.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rdr", Name: "tasks",
			Help: "Input partitions held now."}, func() float64 { return float64(p.Stats().Tasks) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rdr", Name: "watermark_lag_seconds",
			Help: "Wall-clock time minus the overall watermark."}, func() float64 {
			wm := p.watermark()
			if wm.IsZero() {
				return 0
			}
			return p.cfg.Clock.Now().Sub(wm).Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rdr", Name: "open_alerts",
			Help: "Alerts firing now."}, func() float64 { return float64(p.Stats().OpenAlerts) }),
	}
	return m
}

func (m *promMetrics) register(r prometheus.Registerer, router *message.Router) error {
	for _, c := range m.collectors {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	metrics.NewPrometheusMetricsBuilder(r, "rdr", "router").AddPrometheusRouterMetrics(router)
	return nil
}
