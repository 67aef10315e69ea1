package pipeline

import (
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rdr-go/rdr/sink"
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
		counter("alerts_silenced_total", "Alert emissions (firing, updates, resolution) that matched a silence: stored, not sent live.", s.alertsSilenced.Load),
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
	if hs := p.SinkHealth(); len(hs) > 0 {
		m.collectors = append(m.collectors, &sinkHealthCollector{p: p})
	}
	return m
}

// sinkHealthCollector exports the Health of every sink that reports one,
// labelled by sink: a sink that retries in the background shows its
// trouble here, not in rdr_sink_errors_total (which counts writes the sink
// refused).
type sinkHealthCollector struct{ p *Processor }

var (
	sinkPendingDesc  = prometheus.NewDesc("rdr_sink_pending", "Points or alerts a sink has accepted and not yet delivered.", []string{"sink"}, nil)
	sinkRetriesDesc  = prometheus.NewDesc("rdr_sink_retries_total", "Failed delivery attempts a sink retried.", []string{"sink"}, nil)
	sinkBlockedDesc  = prometheus.NewDesc("rdr_sink_blocked_writes_total", "Writes that waited for room in a sink's buffer (backpressure).", []string{"sink"}, nil)
	sinkFailedDesc   = prometheus.NewDesc("rdr_sink_failed_total", "Points or alerts a sink gave up on.", []string{"sink"}, nil)
	sinkOldestDesc   = prometheus.NewDesc("rdr_sink_oldest_pending_seconds", "Age of the oldest point a sink has not delivered; 0: none pending.", []string{"sink"}, nil)
	sinkDegradedDesc = prometheus.NewDesc("rdr_sink_degraded", "1 while a sink fails or falls behind.", []string{"sink"}, nil)
)

func (c *sinkHealthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sinkPendingDesc, sinkRetriesDesc, sinkBlockedDesc, sinkFailedDesc, sinkOldestDesc, sinkDegradedDesc} {
		ch <- d
	}
}

func (c *sinkHealthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.p.SinkHealth() {
		age, degraded := 0.0, 0.0
		if !h.OldestPending.IsZero() {
			age = time.Since(h.OldestPending).Seconds()
		}
		if h.Degraded {
			degraded = 1
		}
		ch <- prometheus.MustNewConstMetric(sinkPendingDesc, prometheus.GaugeValue, float64(h.Pending), h.Name)
		ch <- prometheus.MustNewConstMetric(sinkRetriesDesc, prometheus.CounterValue, float64(h.Retries), h.Name)
		ch <- prometheus.MustNewConstMetric(sinkBlockedDesc, prometheus.CounterValue, float64(h.Blocked), h.Name)
		ch <- prometheus.MustNewConstMetric(sinkFailedDesc, prometheus.CounterValue, float64(h.Failed), h.Name)
		ch <- prometheus.MustNewConstMetric(sinkOldestDesc, prometheus.GaugeValue, age, h.Name)
		ch <- prometheus.MustNewConstMetric(sinkDegradedDesc, prometheus.GaugeValue, degraded, h.Name)
	}
}

// SinkHealth returns the Health of every sink that reports one
// ([sink.HealthReporter]), in Config.Sinks order.
func (p *Processor) SinkHealth() []sink.Health {
	var hs []sink.Health
	seen := map[string]int{}
	for _, s := range p.cfg.Sinks {
		if hr, ok := s.(sink.HealthReporter); ok {
			h := hr.Health()
			if seen[h.Name]++; seen[h.Name] > 1 { // two of a kind: influxdb, influxdb-2
				h.Name += "-" + strconv.Itoa(seen[h.Name])
			}
			hs = append(hs, h)
		}
	}
	return hs
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
