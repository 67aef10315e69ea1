package sigma_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sigma"
)

// benchRules writes 100 Sigma detection rules of the shapes public rule
// sets use (exact values, lists, contains/startswith/endswith, wildcards,
// regular expressions, CIDR, numbers, and/or/not, "1 of"), spread over
// rdr's logsource categories, and 10 correlation rules over some of them:
// event_count, value_count, temporal and temporal_ordered.
func benchRules() string {
	var b strings.Builder
	cats := []string{"authentication", "file_access", "privilege", ""}
	for i := range 100 {
		cat := cats[i%len(cats)]
		fmt.Fprintf(&b, "title: Detection %d\nname: det_%d\nlevel: %s\ntags: [attack.t%d]\nlogsource:\n  product: rdr\n", i, i,
			[]string{"low", "medium", "high", "critical"}[i%4], 1000+i)
		if cat != "" {
			fmt.Fprintf(&b, "  category: %s\n", cat)
		}
		b.WriteString("detection:\n")
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, "  sel:\n    app: [app%d, app%d]\n    country: KP\n  condition: sel\n", i%20, (i+7)%20)
		case 1:
			fmt.Fprintf(&b, "  sel:\n    path|contains: '\\secret%d\\'\n  filter:\n    userId|startswith: svc-\n  condition: sel and not filter\n", i)
		case 2:
			fmt.Fprintf(&b, "  sel:\n    path|endswith: ['.ps%d', '.vbs%d']\n  condition: sel\n", i, i)
		case 3:
			fmt.Fprintf(&b, "  sel:\n    process|re: '^(?:mimikatz|procdump)%d\\.exe$'\n  condition: sel\n", i)
		case 4:
			fmt.Fprintf(&b, "  sel:\n    ipAddress|cidr: [198.51.%d.0/24, 192.0.2.0/28]\n  condition: sel\n", i)
		case 5:
			fmt.Fprintf(&b, "  sel:\n    bytes|gt: %d\n    app: app%d\n  condition: sel\n", 5_000_000+i, i%20)
		case 6:
			fmt.Fprintf(&b, "  sel_a:\n    userId: 'admin*%d'\n  sel_b:\n    role: [root, domain-admin%d]\n  condition: 1 of sel_*\n", i, i)
		case 7:
			fmt.Fprintf(&b, "  sel:\n    process|contains|all: [powershell, '-enc', 'x%d']\n  condition: sel\n", i)
		case 8:
			fmt.Fprintf(&b, "  sel:\n    country: [RU, IR, 'X%d']\n    app: vpn\n  filter:\n    userId: 'svc-*'\n  condition: sel and not filter\n", i)
		case 9:
			fmt.Fprintf(&b, "  sel:\n    path|startswith: 'C:\\Windows\\Temp%d\\'\n  condition: sel\n", i)
		}
		b.WriteString("---\n")
	}
	// Base rules for the correlations, and the correlations.
	b.WriteString(`title: Failed login
name: failed_login
logsource: {product: rdr, category: authentication}
detection:
  sel: {eventType: login_failed}
  condition: sel
---
title: Successful login
name: successful_login
logsource: {product: rdr, category: authentication}
detection:
  sel: {eventType: login_success}
  condition: sel
---
title: Privilege change
name: priv_change
logsource: {product: rdr, category: privilege}
detection:
  sel: {eventType: privilege_change}
  condition: sel
---
title: Secret file read
name: secret_read
logsource: {product: rdr, category: file_access}
detection:
  sel: {path|contains: '\secret'}
  condition: sel
---
`)
	for i := range 10 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "title: Many failures %d\nname: many_failed_%d\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [userId]\n  timespan: %dm\n  condition: {gte: %d}\nlevel: medium\n---\n", i, i, 1+i, 5+i)
		case 1:
			fmt.Fprintf(&b, "title: Spray %d\nname: spray_%d\ncorrelation:\n  type: value_count\n  rules: [failed_login]\n  group-by: [ipAddress]\n  timespan: 5m\n  condition: {field: userId, gte: %d}\nlevel: high\n---\n", i, i, 20+i)
		case 2:
			fmt.Fprintf(&b, "title: Login then privilege %d\nname: login_priv_%d\ncorrelation:\n  type: temporal\n  rules: [successful_login, priv_change, secret_read]\n  group-by: [userId]\n  timespan: %dm\nlevel: high\n---\n", i, i, 5+i)
		case 3:
			fmt.Fprintf(&b, "title: Brute force success %d\nname: bf_success_%d\ncorrelation:\n  type: temporal_ordered\n  rules: [bf_count_%d, successful_login]\n  group-by: [userId]\n  timespan: 10m\nlevel: critical\n---\n", i, i, i)
			fmt.Fprintf(&b, "title: BF count %d\nname: bf_count_%d\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [userId]\n  timespan: 10m\n  condition: {gte: 5}\n---\n", i, i)
		}
	}
	return strings.TrimSuffix(b.String(), "---\n")
}

// benchMapping is the default mapping with the metadata the rules read.
const benchMapping = `
logsources:
  - product: rdr
  - {product: rdr, category: authentication, event-types: [login_success, login_failed, mfa_challenge, mfa_success]}
  - {product: rdr, category: file_access, event-types: [file_access]}
  - {product: rdr, category: privilege, event-types: [privilege_change]}
fields:
  app: metadata.app
  country: metadata.country
  path: metadata.path
  process: metadata.process
  bytes: metadata.bytes
  role: metadata.role
rdr-fields: true
`

// benchEvents makes realistic traffic: 5,000 users, 8 event types, a few
// metadata keys per event, and about 1% of events that raise or update an
// alert.
func benchEvents(n int) []rdr.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"login_success", "login_failed", "file_access", "file_access", "file_access", "privilege_change", "mfa_challenge", "mfa_success", "logout", "file_access"}
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	evs := make([]rdr.Event, n)
	for i := range evs {
		typ := types[rng.IntN(len(types))]
		u := rng.IntN(5000)
		ip := netip.AddrFrom4([4]byte{10, byte(u >> 8), byte(u), 1})
		md := rdr.MakeMetadata("app", fmt.Sprintf("app%d", u%20), "country", "DE")
		switch typ {
		case "file_access":
			path := fmt.Sprintf(`C:\Users\u%d\Documents\report%d.docx`, u, rng.IntN(100))
			if rng.IntN(100) == 0 {
				path = fmt.Sprintf(`D:\share\secret%d\plan.xlsx`, rng.IntN(100))
			}
			md = rdr.MakeMetadata("app", "fileserver", "path", path, "process", "explorer.exe", "bytes", fmt.Sprint(rng.IntN(10_000_000)))
		case "privilege_change":
			role := []string{"user", "editor"}[rng.IntN(2)]
			if rng.IntN(100) == 0 {
				role = "root"
			}
			md = rdr.MakeMetadata("app", "hr", "role", role)
		case "login_success", "login_failed":
			if rng.IntN(200) == 0 {
				md = rdr.MakeMetadata("app", "vpn", "country", "KP")
				ip = netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(100)), 7})
			}
		}
		evs[i] = rdr.Event{Time: start.Add(time.Duration(i) * time.Millisecond), Type: typ, UserID: fmt.Sprintf("u-%04d", u),
			IP: ip, Severity: rdr.SeverityLow, Metadata: md}
	}
	return evs
}

// BenchmarkSigma runs 100 Sigma detection rules and 10 correlations on one
// engine, one core: ns/event, allocs/event, events/s, and the alert
// emissions per 100 events.
func BenchmarkSigma(b *testing.B) {
	m, err := sigma.ParseMapping("bench-mapping.yaml", []byte(benchMapping))
	if err != nil {
		b.Fatal(err)
	}
	coll, err := sigma.Parse(m, "bench.yml", []byte(benchRules()))
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(1 << 16)
	eng, err := anomaly.NewEngine(coll.Rules(), anomaly.Config{MaxFuture: -1})
	if err != nil {
		b.Fatal(err)
	}
	emitted := 0
	emit := func(anomaly.Alert) { emitted++ }
	span := evs[len(evs)-1].Time.Sub(evs[0].Time) + time.Millisecond
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(i/len(evs)) * span)
		eng.Process(ev, emit)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(emitted)*100/float64(b.N), "alert-msgs/100ev")
	b.ReportMetric(float64(coll.Len()), "rules")
}
