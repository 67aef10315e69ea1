package anomaly_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

const (
	benchUsers  = 100_000
	benchIPs    = 10_000
	benchEvents = 1 << 18
	benchStep   = 100 * time.Microsecond // 10,000 events a second
)

// benchMix is a realistic stream: 100k users, each with a home address
// among 10k; mostly benign login_success and file_access, some
// login_failed, a few MFA and privilege_change events, rare high and
// critical severities. Times are set by the caller.
func benchMix() []rdr.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	users := make([]string, benchUsers)
	for i := range users {
		users[i] = fmt.Sprintf("u-%06d", i)
	}
	ips := make([]netip.Addr, benchIPs)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	apps := []rdr.Metadata{rdr.MakeMetadata("app", "vpn"), rdr.MakeMetadata("app", "mail", "country", "DE"), ""}
	evs := make([]rdr.Event, benchEvents)
	for i := range evs {
		u := rng.IntN(benchUsers)
		ev := rdr.Event{UserID: users[u], IP: ips[u%benchIPs], Severity: rdr.SeverityLow, Metadata: apps[rng.IntN(len(apps))]}
		switch p := rng.IntN(1000); {
		case p < 480:
			ev.Type = "login_success"
			if rng.IntN(100) == 0 {
				ev.IP = ips[rng.IntN(benchIPs)] // now and then from somewhere new
			}
		case p < 920:
			ev.Type = "file_access"
		case p < 980:
			ev.Type = "login_failed"
		case p < 985:
			ev.Type = "mfa_challenge"
		case p < 990:
			ev.Type = "mfa_success"
		default:
			ev.Type = "privilege_change"
		}
		switch p := rng.IntN(1000); {
		case p < 250:
			ev.Severity = rdr.SeverityMedium
		case p < 299:
			ev.Severity = rdr.SeverityHigh
		case p == 299:
			ev.Severity = rdr.SeverityCritical
		}
		evs[i] = ev
	}
	return evs
}

// decoded hands out the events of evs in turn, at benchStep intervals, the
// way a decoder does: each event's strings freshly written into one reused
// buffer (so the engine must copy what it keeps). The copy is part of the
// measured time.
type decoded struct {
	evs []rdr.Event
	i   int
	buf []byte
}

func (d *decoded) next() rdr.Event {
	ev := d.evs[d.i%len(d.evs)]
	ev.Time = t0.Add(time.Duration(d.i) * benchStep)
	d.i++
	d.buf = append(append(append(d.buf[:0], ev.Type...), ev.UserID...), ev.Metadata...)
	s := unsafe.String(unsafe.SliceData(d.buf), len(d.buf))
	n, m := len(ev.Type), len(ev.Type)+len(ev.UserID)
	ev.Type, ev.UserID, ev.Metadata = s[:n], s[n:m], rdr.Metadata(s[m:])
	return ev
}

// BenchmarkDefaultRules measures the whole default rule set on the
// realistic mix: one op is one event.
func BenchmarkDefaultRules(b *testing.B) {
	src := &decoded{evs: benchMix(), buf: make([]byte, 0, 1024)}
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
	if err != nil {
		b.Fatal(err)
	}
	alerts := 0
	emit := func(anomaly.Alert) { alerts++ }
	next := src.next
	evs := src.evs
	// Warm up: every user seen, baselines and windows filled.
	for range 3 * len(evs) {
		eng.Process(next(), emit)
	}
	alerts = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		eng.Process(next(), emit)
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	st := eng.Stats()
	// CPU time (user+system, all threads, GC included) per event: steadier
	// than ns/op on a machine shared with other work.
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
	b.ReportMetric(float64(st.TrackedKeys), "keys")
}

// BenchmarkDetector measures each default rule on its own, on the same mix.
func BenchmarkDetector(b *testing.B) {
	evs := benchMix()
	for _, r := range anomaly.DefaultRules() {
		b.Run(r.Name, func(b *testing.B) {
			eng, err := anomaly.NewEngine([]anomaly.Rule{r}, anomaly.Config{MaxFuture: -1})
			if err != nil {
				b.Fatal(err)
			}
			src := &decoded{evs: evs, buf: make([]byte, 0, 1024)}
			next := src.next
			for range len(evs) {
				eng.Process(next(), nil)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				eng.Process(next(), nil)
			}
		})
	}
}

// BenchmarkBytesPerKey reports the heap each detector holds per tracked
// key (100,000 keys). The key strings are made before the count: detectors
// that keep hashes hold none of them; Absence keeps a copy of each key and
// of the waiting event, which the figure includes.
func BenchmarkBytesPerKey(b *testing.B) {
	const keys = 100_000
	users := make([]string, keys)
	for i := range users {
		users[i] = fmt.Sprintf("u-%06d", i)
	}
	cases := []struct {
		name string
		new  func() (anomaly.Detector, error)
	}{
		{"count", func() (anomaly.Detector, error) {
			return anomaly.NewCount(anomaly.CountConfig{Window: time.Minute, Threshold: 5})
		}},
		{"distinct", func() (anomaly.Detector, error) {
			return anomaly.NewDistinct(anomaly.DistinctConfig{Field: anomaly.FieldIP, Window: 5 * time.Minute, Threshold: 20})
		}},
		{"sequence", func() (anomaly.Detector, error) {
			return anomaly.NewSequence(anomaly.SequenceConfig{Count: 5, Window: 5 * time.Minute})
		}},
		{"first-seen", func() (anomaly.Detector, error) {
			return anomaly.NewFirstSeen(anomaly.FirstSeenConfig{Field: anomaly.FieldIP})
		}},
		{"absence", func() (anomaly.Detector, error) {
			return anomaly.NewAbsence(anomaly.AbsenceConfig{First: anomaly.Filter{Types: []string{"login_failed"}},
				Then: anomaly.Filter{Types: []string{"mfa_success"}}, Window: 5 * time.Minute})
		}},
		{"spike", func() (anomaly.Detector, error) { return anomaly.NewSpike(anomaly.SpikeConfig{}) }},
		{"risk", func() (anomaly.Detector, error) {
			return anomaly.NewRisk(anomaly.RiskConfig{Threshold: 100, Points: 1})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var perKey float64
			for range b.N {
				det, err := c.new()
				if err != nil {
					b.Fatal(err)
				}
				before := heap()
				ev := rdr.Event{Time: t0, Type: "login_failed", Severity: rdr.SeverityLow, IP: netip.MustParseAddr("192.0.2.1")}
				for _, u := range users {
					ev.UserID = u
					det.Observe(ev, u, func(anomaly.Detection) {})
				}
				after := heap()
				if det.Len() != keys {
					b.Fatalf("Len = %d, want %d", det.Len(), keys)
				}
				perKey = float64(after-before) / keys
				runtime.KeepAlive(det)
			}
			b.ReportMetric(perKey, "bytes/key")
		})
	}
}

// BenchmarkEngineSnapshot measures saving and restoring the default rules
// holding state for 1,000,000 users, each with a login from their own
// address, a file access and a failed login within the last 30 seconds;
// one in a hundred also has an MFA challenge waiting and a first privilege
// change firing. It reports the size of the saved state.
func BenchmarkEngineSnapshot(b *testing.B) {
	const users = 1_000_000
	newEngine := func() *anomaly.Engine {
		eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
		if err != nil {
			b.Fatal(err)
		}
		return eng
	}
	eng := newEngine()
	const step = 10 * time.Microsecond
	at := t0
	next := func(typ, user string, ip netip.Addr) {
		eng.Process(rdr.Event{Time: at, Type: typ, UserID: user, IP: ip, Severity: rdr.SeverityLow, Metadata: `{"app":"vpn"}`}, nil)
		at = at.Add(step)
	}
	for i := range users {
		user := fmt.Sprintf("u-%07d", i)
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		next("login_success", user, ip)
		next("file_access", user, ip)
		next("login_failed", user, ip)
		if i%100 == 0 {
			next("mfa_challenge", user, ip)
			next("privilege_change", user, ip)
		}
	}
	st := eng.Stats()
	if st.Firing != users/100 {
		b.Fatalf("%d alerts firing, want %d", st.Firing, users/100)
	}
	state, err := eng.AppendState(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("AppendState", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, len(state))
		for b.Loop() {
			if buf, err = eng.AppendState(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes")
		b.ReportMetric(float64(len(buf))/users, "bytes/user")
	})
	b.Run("RestoreState", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			fresh := newEngine()
			runtime.GC()
			b.StartTimer()
			if err := fresh.RestoreState(state); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(state)), "bytes")
	})
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStormSnapshot measures saving the default rules' state after
// the benchmark suite's alert storm: 200,000 events of 5,000 users over
// 10 s of event time, each from a random address, so that thousands of
// alerts are firing, each with its events kept. It is what every
// checkpoint of a task costs while the storm lasts.
func BenchmarkStormSnapshot(b *testing.B) {
	eng, firing := stormEngine(b)
	buf, err := eng.AppendState(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = eng.AppendState(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(firing), "alerts-firing")
	b.ReportMetric(float64(len(buf)), "bytes")
}

// BenchmarkStormSnapshotFresh is BenchmarkStormSnapshot into a buffer of
// nothing, as a task's first checkpoint is (or one after the state grew
// past the room kept for it): what growing the buffer costs.
func BenchmarkStormSnapshotFresh(b *testing.B) {
	eng, firing := stormEngine(b)
	var buf []byte
	var err error
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = eng.AppendState(nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(firing), "alerts-firing")
	b.ReportMetric(float64(len(buf)), "bytes")
}

// stormEngine is the default rules after BenchmarkStormSnapshot's storm,
// and the number of alerts firing.
func stormEngine(b *testing.B) (*anomaly.Engine, int) {
	b.Helper()
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
	if err != nil {
		b.Fatal(err)
	}
	kinds := []string{"login_success", "login_failed", "logout", "file_access", "file_delete", "api_call", "password_reset", "mfa_challenge"}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 200_000 {
		u := rng.IntN(5000)
		eng.Process(rdr.Event{Time: t0.Add(time.Duration(i) * 50 * time.Microsecond), Type: kinds[rng.IntN(len(kinds))],
			UserID: fmt.Sprintf("u-%05d", u), Severity: rdr.SeverityLow,
			IP: netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})}, nil)
	}
	return eng, int(eng.Stats().Firing)
}
