package aggregate_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/rdr-go/rdr"
)

// t0 is the start of the test windows.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// eventTypes are the ~12 event types of the synthetic workload.
var eventTypes = []string{
	"login", "login_failed", "logout", "password_reset", "mfa_challenge", "mfa_failed",
	"file_access", "file_download", "privilege_change", "api_call", "session_expired", "account_locked",
}

// workload is a Zipf-distributed synthetic stream: users, IPs and event
// types drawn with math/rand/v2's Zipf (s = 1.1), severities 50/30/15/5 %.
type workload struct {
	users []string
	ips   []netip.Addr
}

func newWorkload(users, ips int) *workload {
	w := &workload{users: make([]string, users), ips: make([]netip.Addr, ips)}
	for i := range w.users {
		w.users[i] = fmt.Sprintf("u-%d", i)
	}
	for i := range w.ips {
		w.ips[i] = ipOf(i)
	}
	return w
}

// ipOf returns the i-th address of 10.0.0.0/8.
func ipOf(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// events returns n events, one millisecond apart from t0, deterministic
// for a seed.
func (w *workload) events(n int, seed uint64) []rdr.Event {
	r := rand.New(rand.NewPCG(seed, 42))
	zu := rand.NewZipf(r, 1.1, 1, uint64(len(w.users)-1))
	zi := rand.NewZipf(r, 1.1, 1, uint64(len(w.ips)-1))
	zt := rand.NewZipf(r, 1.1, 1, uint64(len(eventTypes)-1))
	out := make([]rdr.Event, n)
	for i := range out {
		sev := rdr.SeverityLow
		switch p := r.IntN(100); {
		case p >= 95:
			sev = rdr.SeverityCritical
		case p >= 80:
			sev = rdr.SeverityHigh
		case p >= 50:
			sev = rdr.SeverityMedium
		}
		out[i] = rdr.Event{
			Time:     t0.Add(time.Duration(i) * time.Millisecond),
			Type:     eventTypes[zt.Uint64()],
			UserID:   w.users[zu.Uint64()],
			IP:       w.ips[zi.Uint64()],
			Severity: sev,
		}
	}
	return out
}

// ev is a compact event constructor for exact tests.
func ev(offset time.Duration, typ, user, ip string, sev rdr.Severity) rdr.Event {
	e := rdr.Event{Time: t0.Add(offset), Type: typ, UserID: user, Severity: sev}
	if ip != "" {
		e.IP = netip.MustParseAddr(ip)
	}
	return e
}
