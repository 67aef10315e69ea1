package anomaly_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attackDay is 40 minutes of a realistic stream for the default rules: 200
// users going about their work (logins from their home address, file
// access, the odd failed login, MFA challenges answered) with one of each
// attack the default rules look for:
//
//   - 5m: mallory fails to log in six times from 203.0.113.66, then gets in
//     (brute force); at 6m she makes a critical privilege change, which
//     also tips her risk over 100;
//   - 10m: 198.51.100.7 fails logins for 25 of the users in two minutes
//     (password spraying);
//   - 15m: alice logs in from 192.0.2.99, not her home address (new IP);
//   - 20m: bob makes his first privilege change;
//   - 25m: carol, who reads a file every 5 seconds, reads 80 in 8 seconds
//     (spike);
//   - 30m: dave gets an MFA challenge and never answers it.
//
// The events are in time order and, like decoded ones, have every field.
func attackDay() []rdr.Event {
	rng := rand.New(rand.NewPCG(7, 11))
	var evs []rdr.Event
	add := func(d time.Duration, typ, user, ip string, sev rdr.Severity) {
		evs = append(evs, rdr.Event{Time: t0.Add(d), Type: typ, UserID: user, IP: netip.MustParseAddr(ip), Severity: sev,
			Metadata: rdr.MakeMetadata("app", []string{"vpn", "mail", "crm"}[len(evs)%3])})
	}
	users := []string{"alice", "bob", "carol", "dave"}
	for i := range 196 {
		users = append(users, fmt.Sprintf("user-%03d", i))
	}
	home := func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, i%250+1) }
	const day = 40 * time.Minute
	for i, u := range users {
		// A login at the start, then every 5 to 15 minutes.
		for d := time.Duration(rng.IntN(60)) * time.Second; d < day; d += time.Duration(300+rng.IntN(600)) * time.Second {
			add(d, "login_success", u, home(i), rdr.SeverityLow)
		}
		// File access every 20 to 40 seconds; carol's every 5.
		step := func() time.Duration { return time.Duration(20+rng.IntN(20)) * time.Second }
		if u == "carol" {
			step = func() time.Duration { return 5 * time.Second }
		}
		for d := time.Duration(rng.IntN(30)) * time.Second; d < day; d += step() {
			add(d, "file_access", u, home(i), []rdr.Severity{rdr.SeverityLow, rdr.SeverityMedium}[rng.IntN(2)])
		}
		// A failed login now and then, and an MFA challenge answered.
		for range 3 {
			d := time.Duration(rng.IntN(int(day/time.Second))) * time.Second
			add(d, "login_failed", u, home(i), rdr.SeverityMedium)
			add(d+time.Duration(10+rng.IntN(20))*time.Second, "mfa_challenge", u, home(i), rdr.SeverityLow)
			add(d+time.Duration(40+rng.IntN(20))*time.Second, "mfa_success", u, home(i), rdr.SeverityLow)
		}
	}
	// The attacks.
	for i := range 6 {
		add(5*time.Minute+time.Duration(i)*5*time.Second, "login_failed", "mallory", "203.0.113.66", rdr.SeverityMedium)
	}
	add(5*time.Minute+40*time.Second, "login_success", "mallory", "203.0.113.66", rdr.SeverityMedium)
	add(6*time.Minute, "privilege_change", "mallory", "203.0.113.66", rdr.SeverityCritical)
	for i := range 25 {
		add(10*time.Minute+time.Duration(i)*5*time.Second, "login_failed", users[4+i], "198.51.100.7", rdr.SeverityMedium)
	}
	add(15*time.Minute, "login_success", "alice", "192.0.2.99", rdr.SeverityLow)
	add(20*time.Minute, "privilege_change", "bob", home(1), rdr.SeverityMedium)
	for i := range 80 {
		add(25*time.Minute+time.Duration(i)*100*time.Millisecond, "file_access", "carol", home(2), rdr.SeverityLow)
	}
	add(30*time.Minute, "mfa_challenge", "dave", home(3), rdr.SeverityLow)
	slices.SortStableFunc(evs, func(a, b rdr.Event) int { return a.Time.Compare(b.Time) })
	return evs
}

// dayRun runs the default rules on evs and then three hours more, saving
// the engine and restoring it into a new one before each event whose index
// is in cuts. It returns every alert emitted.
func dayRun(t *testing.T, evs []rdr.Event, cuts ...int) []anomaly.Alert {
	t.Helper()
	return restartedRun(t, anomaly.DefaultRules, evs, cuts...)
}

// restartedRun is dayRun with the rules that rules returns (new ones for
// every engine).
func restartedRun(t *testing.T, rules func() []anomaly.Rule, evs []rdr.Event, cuts ...int) []anomaly.Alert {
	t.Helper()
	newEngine := func() *anomaly.Engine {
		eng, err := anomaly.NewEngine(rules(), anomaly.Config{MaxFuture: -1})
		require.NoError(t, err)
		return eng
	}
	eng := newEngine()
	var got []anomaly.Alert
	emit := func(a anomaly.Alert) { got = append(got, a) }
	for i, ev := range evs {
		if slices.Contains(cuts, i) {
			state, err := eng.AppendState(nil)
			require.NoError(t, err)
			firing := eng.Stats().Firing
			eng = newEngine()
			require.NoError(t, eng.RestoreState(state), "restore before event %d", i)
			require.Equal(t, firing, eng.Stats().Firing, "Firing after the restore before event %d", i)
		}
		eng.Process(ev, emit)
	}
	eng.Advance(evs[len(evs)-1].Time.Add(3*time.Hour), emit)
	return got
}

// cutAt returns the index of the first event at or after t0+d.
func cutAt(evs []rdr.Event, d time.Duration) int {
	i, _ := slices.BinarySearchFunc(evs, t0.Add(d), func(ev rdr.Event, t time.Time) int { return ev.Time.Compare(t) })
	return i
}

func TestDefaultRulesRestoredMidAttack(t *testing.T) {
	evs := attackDay()
	want := dayRun(t, evs)

	// Each attack once, each alert firing then resolving.
	type fired struct {
		Rule, Key string
		At        time.Duration
	}
	var firings []fired
	for _, a := range want {
		if a.Status == firing {
			firings = append(firings, fired{a.Rule, a.Key, a.FirstSeen.Sub(t0)})
		}
	}
	assert.Equal(t, []fired{
		{"failed-login-burst", "mallory", 5*time.Minute + 20*time.Second},
		{"brute-force-success", "mallory", 5*time.Minute + 40*time.Second},
		// Rule order; the critical event's 50 points take her risk from
		// 15+50+15 to 130.
		{"first-privilege-change", "mallory", 6 * time.Minute},
		{"critical-event", "mallory", 6 * time.Minute},
		{"user-risk", "mallory", 6 * time.Minute},
		{"password-spraying", "198.51.100.7", 10*time.Minute + 95*time.Second},
		{"new-login-ip", "alice", 15 * time.Minute},
		{"first-privilege-change", "bob", 20 * time.Minute},
		// One of her usual reads and 49 of the burst make 50.
		{"file-access-spike", "carol", 25*time.Minute + 4800*time.Millisecond},
		{"mfa-not-completed", "dave", 35 * time.Minute},
	}, firings)
	require.Len(t, want, 2*len(firings), "every alert resolves")

	for _, tt := range []struct {
		name string
		cuts []int
	}{
		{"at the start", []int{0}},
		{"mid brute force", []int{cutAt(evs, 5*time.Minute+12*time.Second)}},
		{"with mallory's alerts firing", []int{cutAt(evs, 6*time.Minute+time.Second)}},
		{"mid spray", []int{cutAt(evs, 11*time.Minute)}},
		{"mid spike", []int{cutAt(evs, 25*time.Minute+4*time.Second)}},
		{"while dave waits", []int{cutAt(evs, 32*time.Minute)}},
		{"before the last event", []int{len(evs) - 1}},
		{"every tenth of the stream", func() []int {
			var cuts []int
			for i := 1; i < 10; i++ {
				cuts = append(cuts, i*len(evs)/10)
			}
			return cuts
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, want, dayRun(t, evs, tt.cuts...))
		})
	}
}

// The rules of the fuzz test, and one more, use every lifecycle option
// (update-every, cooldown, resolve 0s, max-events) and group by every kind
// of field.
func TestEveryLifecycleRestored(t *testing.T) {
	rules := func() []anomaly.Rule {
		extra, err := anomaly.ParseRules("fuzz.yaml", []byte(fuzzRules+`
  - name: medium-with-cooldown
    type: severity
    group-by: userId
    condition: {gte: medium}
    severity: low
    resolve: 0s
    cooldown: 5m
`))
		require.NoError(t, err)
		return append(anomaly.DefaultRules(), extra...)
	}
	evs := attackDay()
	want := restartedRun(t, rules, evs)
	// Updates and suppressions happen, so that state is exercised.
	_, eng := run(t, rules(), evs, 3*time.Hour)
	st := eng.Stats()
	require.Equal(t, uint64(len(want)), st.Fired+st.Updated+st.Resolved)
	require.Positive(t, st.Updated)
	require.Positive(t, st.Suppressed)
	var cuts []int
	for i := 1; i < 25; i++ {
		cuts = append(cuts, i*len(evs)/25)
	}
	assert.Equal(t, want, restartedRun(t, rules, evs, cuts...))
}

func TestRestoredEngineRemembersUsers(t *testing.T) {
	newEngine := func() *anomaly.Engine {
		eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{MaxFuture: -1})
		require.NoError(t, err)
		return eng
	}
	var got []anomaly.Alert
	emit := func(a anomaly.Alert) { got = append(got, a) }
	ev := func(d time.Duration, typ, ip string) rdr.Event {
		return withIP(at(d, typ, "erin"), ip)
	}
	before := []rdr.Event{
		ev(0, "login_success", "10.1.1.1"),              // learned silently
		ev(time.Minute, "privilege_change", "10.1.1.1"), // her first: an alert
	}
	after := []rdr.Event{
		ev(11*time.Minute, "login_success", "10.1.1.1"),    // known
		ev(12*time.Minute, "privilege_change", "10.1.1.1"), // known
		ev(13*time.Minute, "login_success", "10.1.1.2"),    // new
	}
	eng := newEngine()
	for _, e := range before {
		eng.Process(e, emit)
	}
	eng.Advance(t0.Add(10*time.Minute), emit)
	require.Equal(t, []brief{
		{Rule: "first-privilege-change", Key: "erin", Status: firing, Count: 1, Threshold: 1, FirstSeen: time.Minute, LastSeen: time.Minute},
		{Rule: "first-privilege-change", Key: "erin", Status: resolved, Count: 1, Threshold: 1, FirstSeen: time.Minute, LastSeen: time.Minute, ResolvedAt: 6 * time.Minute},
	}, briefs(got))
	state, err := eng.AppendState(nil)
	require.NoError(t, err)

	restored := newEngine()
	require.NoError(t, restored.RestoreState(state))
	got = nil
	for _, e := range after {
		restored.Process(e, emit)
	}
	assert.Equal(t, []brief{
		{Rule: "new-login-ip", Key: "erin", Status: firing, Count: 1, Threshold: 1, FirstSeen: 13 * time.Minute, LastSeen: 13 * time.Minute},
	}, briefs(got), "after the restore, erin's address and privilege changes are known")
	require.Len(t, got, 1)
	assert.Equal(t, "new-login-ip: new ipAddress 10.1.1.2 (not seen in 30d) for userId erin", got[0].Message)

	// Without the state, a new engine knows nothing of her.
	got = nil
	fresh := newEngine()
	for _, e := range after {
		fresh.Process(e, emit)
	}
	assert.Equal(t, []brief{
		{Rule: "first-privilege-change", Key: "erin", Status: firing, Count: 1, Threshold: 1, FirstSeen: 12 * time.Minute, LastSeen: 12 * time.Minute},
		{Rule: "new-login-ip", Key: "erin", Status: firing, Count: 1, Threshold: 1, FirstSeen: 13 * time.Minute, LastSeen: 13 * time.Minute},
	}, briefs(got))
}
