package anomaly_test

import (
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/anomaly/anomalytest"
)

// Every built-in detector runs the conformance suite.

func must[T anomaly.Detector](d T, err error) anomaly.Detector {
	if err != nil {
		panic(err)
	}
	return d
}

func TestCountConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Filter: anomaly.Filter{Types: []string{"login_failed"}},
		Attack: func(s time.Time) []rdr.Event {
			return concat(
				repeat(rdr.Event{Time: s, Type: "login_failed", UserID: "alice", Severity: rdr.SeverityMedium}, 8, time.Second),
				repeat(rdr.Event{Time: s.Add(20 * time.Second), Type: "login_failed", UserID: "bob", Severity: rdr.SeverityMedium}, 6, time.Second))
		},
		Benign: func(s time.Time) []rdr.Event {
			return concat(
				repeat(rdr.Event{Time: s, Type: "login_failed", UserID: "alice", Severity: rdr.SeverityLow}, 30, 20*time.Second),
				repeat(rdr.Event{Time: s, Type: "login_success", UserID: "bob", Severity: rdr.SeverityLow}, 50, time.Second))
		},
		StateTTL: 2 * time.Minute,
	}, func() anomaly.Detector {
		return must(anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 5}))
	})
}

func TestDistinctConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		GroupBy: anomaly.FieldIP,
		Attack: func(s time.Time) []rdr.Event {
			var evs []rdr.Event
			for i, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"} {
				evs = append(evs, withIP(rdr.Event{Time: s.Add(time.Duration(i) * time.Second), Type: "login_failed", UserID: u, Severity: rdr.SeverityLow}, "198.51.100.1"))
			}
			return evs
		},
		Benign: func(s time.Time) []rdr.Event {
			var evs []rdr.Event
			for i := range 60 {
				u := []string{"u1", "u2"}[i%2]
				evs = append(evs, withIP(rdr.Event{Time: s.Add(time.Duration(i) * 10 * time.Second), Type: "login_failed", UserID: u, Severity: rdr.SeverityLow}, "198.51.100.1"))
			}
			return evs
		},
		StateTTL: 10 * time.Minute,
	}, func() anomaly.Detector {
		return must(anomaly.NewDistinct(anomaly.DistinctConfig{Field: anomaly.FieldUserID, Window: 5 * time.Minute, Threshold: 5}))
	})
}

func TestSequenceConformance(t *testing.T) {
	failed := anomaly.Filter{Types: []string{"login_failed"}}
	success := anomaly.Filter{Types: []string{"login_success"}}
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(s time.Time) []rdr.Event {
			return concat(
				repeat(rdr.Event{Time: s, Type: "login_failed", UserID: "alice", Severity: rdr.SeverityLow}, 3, time.Second),
				[]rdr.Event{{Time: s.Add(5 * time.Second), Type: "login_success", UserID: "alice", Severity: rdr.SeverityLow}})
		},
		Benign: func(s time.Time) []rdr.Event {
			return concat(
				repeat(rdr.Event{Time: s, Type: "login_failed", UserID: "bob", Severity: rdr.SeverityLow}, 2, time.Second),
				[]rdr.Event{{Time: s.Add(5 * time.Second), Type: "login_success", UserID: "bob", Severity: rdr.SeverityLow}},
				repeat(rdr.Event{Time: s.Add(10 * time.Second), Type: "login_success", UserID: "carol", Severity: rdr.SeverityLow}, 10, time.Second))
		},
		StateTTL: 4 * time.Minute,
	}, func() anomaly.Detector {
		return must(anomaly.NewSequence(anomaly.SequenceConfig{First: failed, Count: 3, Then: success, Window: 2 * time.Minute}))
	})
}

func TestAbsenceConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(s time.Time) []rdr.Event {
			return []rdr.Event{
				{Time: s, Type: "mfa_challenge", UserID: "alice", Severity: rdr.SeverityLow},
				{Time: s.Add(time.Second), Type: "mfa_challenge", UserID: "bob", Severity: rdr.SeverityLow},
			}
		},
		Benign: func(s time.Time) []rdr.Event {
			var evs []rdr.Event
			for i, u := range []string{"carol", "dave", "erin"} {
				d := time.Duration(i) * time.Minute
				evs = append(evs,
					rdr.Event{Time: s.Add(d), Type: "mfa_challenge", UserID: u, Severity: rdr.SeverityLow},
					rdr.Event{Time: s.Add(d + 30*time.Second), Type: "mfa_success", UserID: u, Severity: rdr.SeverityLow})
			}
			return evs
		},
		StateTTL: 3 * time.Minute,
	}, func() anomaly.Detector {
		return must(anomaly.NewAbsence(anomaly.AbsenceConfig{
			First: anomaly.Filter{Types: []string{"mfa_challenge"}}, Then: anomaly.Filter{Types: []string{"mfa_success"}}, Window: 2 * time.Minute}))
	})
}

func TestFirstSeenConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(s time.Time) []rdr.Event {
			return []rdr.Event{
				withIP(rdr.Event{Time: s, Type: "login_success", UserID: "alice", Severity: rdr.SeverityLow}, "192.0.2.1"),
				withIP(rdr.Event{Time: s.Add(time.Minute), Type: "login_success", UserID: "alice", Severity: rdr.SeverityLow}, "192.0.2.2"),
			}
		},
		Benign: func(s time.Time) []rdr.Event {
			var evs []rdr.Event
			for i := range 20 {
				for j, u := range []string{"bob", "carol"} {
					evs = append(evs, withIP(rdr.Event{Time: s.Add(time.Duration(i) * time.Minute), Type: "login_success", UserID: u, Severity: rdr.SeverityLow},
						[]string{"192.0.2.10", "192.0.2.11"}[j]))
				}
			}
			return evs
		},
		StateTTL: 2 * time.Hour,
	}, func() anomaly.Detector {
		return must(anomaly.NewFirstSeen(anomaly.FirstSeenConfig{Field: anomaly.FieldIP, History: time.Hour}))
	})
}

func TestSpikeConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(s time.Time) []rdr.Event {
			return concat(
				repeat(rdr.Event{Time: s, Type: "file_access", UserID: "alice", Severity: rdr.SeverityLow}, 20, 30*time.Second),
				repeat(rdr.Event{Time: s.Add(10 * time.Minute), Type: "file_access", UserID: "alice", Severity: rdr.SeverityLow}, 40, time.Second))
		},
		Benign: func(s time.Time) []rdr.Event {
			return repeat(rdr.Event{Time: s, Type: "file_access", UserID: "bob", Severity: rdr.SeverityLow}, 90, 20*time.Second)
		},
		StateTTL: time.Hour,
	}, func() anomaly.Detector {
		return must(anomaly.NewSpike(anomaly.SpikeConfig{Interval: time.Minute, Warmup: 5, Deviations: 3, MinCount: 10, History: 30 * time.Minute}))
	})
}

func TestSeverityFloorConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(s time.Time) []rdr.Event {
			return []rdr.Event{{Time: s, Type: "privilege_change", UserID: "alice", Severity: rdr.SeverityCritical}}
		},
		Benign: func(s time.Time) []rdr.Event {
			return repeat(rdr.Event{Time: s, Type: "file_access", UserID: "bob", Severity: rdr.SeverityMedium}, 20, time.Second)
		},
		StateTTL:       time.Minute,
		Stateless:      true,
		ConcurrentSafe: true,
	}, func() anomaly.Detector {
		return must(anomaly.NewSeverityFloor(anomaly.SeverityConfig{Min: rdr.SeverityHigh}))
	})
}

func TestRiskConformance(t *testing.T) {
	anomalytest.Run(t, anomalytest.Features{
		Attack: func(s time.Time) []rdr.Event {
			return repeat(rdr.Event{Time: s, Type: "privilege_change", UserID: "alice", Severity: rdr.SeverityMedium}, 4, time.Second)
		},
		Benign: func(s time.Time) []rdr.Event {
			return repeat(rdr.Event{Time: s, Type: "privilege_change", UserID: "bob", Severity: rdr.SeverityMedium}, 5, time.Hour)
		},
		StateTTL: 16 * 10 * time.Minute,
	}, func() anomaly.Detector {
		return must(anomaly.NewRisk(anomaly.RiskConfig{Threshold: 30, HalfLife: 10 * time.Minute, Points: 10}))
	})
}
