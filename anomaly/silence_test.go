package anomaly_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// silenceAlert is the alert the matcher tests match.
var silenceAlert = anomaly.Alert{
	ID: "a1", Rule: "new-login-ip", GroupBy: "userId", Key: "alice", Severity: rdr.SeverityHigh,
	Status: anomaly.StatusFiring, FirstSeen: t0, LastSeen: t0, Count: 1,
	Tags: []string{"attack.initial-access", "attack.t1078"},
}

// validSilence is a silence of rule new-login-ip for the hour after t0.
func validSilence(matchers ...anomaly.SilenceMatcher) anomaly.Silence {
	if matchers == nil {
		matchers = []anomaly.SilenceMatcher{{Name: "rule", Op: "=", Value: "new-login-ip"}}
	}
	return anomaly.Silence{Matchers: matchers, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "alice", Comment: "VPN migration"}
}

func TestSilenceMatchers(t *testing.T) {
	untagged := silenceAlert
	untagged.Tags = nil
	tests := []struct {
		matcher string
		alert   anomaly.Alert
		want    bool
	}{
		{`rule="new-login-ip"`, silenceAlert, true},
		{`rule="new-login"`, silenceAlert, false},
		{`rule!="new-login-ip"`, silenceAlert, false},
		{`rule!="failed-login-burst"`, silenceAlert, true},
		{`rule=~"new-.*"`, silenceAlert, true},
		{`rule=~"new"`, silenceAlert, false}, // anchored at both ends
		{`rule=~"login"`, silenceAlert, false},
		{`rule=~".*login.*"`, silenceAlert, true},
		{`rule=~"new-login-ip|critical-event"`, silenceAlert, true}, // the alternation is anchored as a whole
		{`rule=~"x|new-login-ip"`, silenceAlert, true},
		{`rule!~"new-.*"`, silenceAlert, false},
		{`rule!~"new"`, silenceAlert, true},
		{`key="alice"`, silenceAlert, true},
		{`key="Alice"`, silenceAlert, false},
		{`key=~"(?i)ALICE"`, silenceAlert, true},
		{`groupBy="userId"`, silenceAlert, true},
		{`groupBy="ipAddress"`, silenceAlert, false},
		{`severity="high"`, silenceAlert, true},
		{`severity=~"high|critical"`, silenceAlert, true},
		{`severity!="high"`, silenceAlert, false},
		{`tag="attack.t1078"`, silenceAlert, true}, // the second tag
		{`tag="attack.initial-access"`, silenceAlert, true},
		{`tag="attack.t1110"`, silenceAlert, false},
		{`tag=~"attack\\.t10.*"`, silenceAlert, true},
		{`tag=~"attack\\.t10"`, silenceAlert, false},
		{`tag!="attack.t1078"`, silenceAlert, false}, // one of the tags is it
		{`tag!="attack.t1110"`, silenceAlert, true},  // none is
		{`tag!~"attack\\..*"`, silenceAlert, false},
		{`tag="attack.t1078"`, untagged, false},
		{`tag!="attack.t1078"`, untagged, true},
		{`tag=""`, untagged, true}, // no tags: one empty tag, as Alertmanager reads a missing label
		{`tag=""`, silenceAlert, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d tags", tt.matcher, len(tt.alert.Tags)), func(t *testing.T) {
			m, err := anomaly.ParseSilenceMatcher(tt.matcher)
			require.NoError(t, err)
			// With a positive matcher beside it, every matcher makes a valid silence.
			sil := validSilence(m, anomaly.SilenceMatcher{Name: "key", Op: "=", Value: "alice"})
			require.NoError(t, sil.Validate())
			assert.Equal(t, tt.want, sil.Matches(tt.alert), "Silence.Matches")
			var set anomaly.Silences
			added, err := set.Add(sil, t0)
			require.NoError(t, err)
			want := ""
			if tt.want {
				want = added.ID
			}
			assert.Equal(t, want, set.Match(tt.alert, t0), "Silences.Match")
		})
	}
}

func TestSilenceMatchersAllMustMatch(t *testing.T) {
	sil := validSilence(
		anomaly.SilenceMatcher{Name: "rule", Op: "=", Value: "new-login-ip"},
		anomaly.SilenceMatcher{Name: "key", Op: "=", Value: "bob"},
	)
	assert.False(t, sil.Matches(silenceAlert), "the key differs")
	sil.Matchers[1].Value = "alice"
	assert.True(t, sil.Matches(silenceAlert))
}

func TestParseSilenceMatcher(t *testing.T) {
	tests := []struct {
		in   string
		want anomaly.SilenceMatcher
	}{
		{`rule="new-login-ip"`, anomaly.SilenceMatcher{Name: "rule", Op: "=", Value: "new-login-ip"}},
		{`tag=~"attack\\.t1110.*"`, anomaly.SilenceMatcher{Name: "tag", Op: "=~", Value: `attack\.t1110.*`}},
		{` severity != low `, anomaly.SilenceMatcher{Name: "severity", Op: "!=", Value: "low"}},
		{`key!~"u-\\d+"`, anomaly.SilenceMatcher{Name: "key", Op: "!~", Value: `u-\d+`}},
		{`key="say \"hi\""`, anomaly.SilenceMatcher{Name: "key", Op: "=", Value: `say "hi"`}},
		{`groupBy=ipAddress`, anomaly.SilenceMatcher{Name: "groupBy", Op: "=", Value: "ipAddress"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := anomaly.ParseSilenceMatcher(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := anomaly.ParseSilenceMatcher(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String gives what ParseSilenceMatcher reads back: %s", got)
		})
	}
	errs := []struct{ in, want string }{
		{`="x"`, `anomaly: invalid silence: matcher: "=\"x\"" does not start with a name (want name="value", e.g. rule="new-login-ip")`},
		{`rule`, `anomaly: invalid silence: matcher: "rule": no operator after "rule" (want =, !=, =~ or !~)`},
		{`rule=="x"`, `anomaly: invalid silence: matcher: "rule==\"x\"": the value ="x" must be double-quoted: a bare value is letters, digits and punctuation other than quotes, \, =, !, ~, commas and braces`},
		{`rule="x`, `anomaly: invalid silence: matcher: "rule=\"x": the value "x is not a double-quoted string (escape " and \ with a backslash)`},
		{`user="alice"`, `anomaly: invalid silence: matcher.name: unknown name "user" (want rule, key, groupBy, severity or tag)`},
		{`rule=~"("`, "anomaly: invalid silence: matcher.value: bad regular expression \"(\": error parsing regexp: missing closing ): `(`"},
	}
	for _, tt := range errs {
		t.Run("error/"+tt.in, func(t *testing.T) {
			_, err := anomaly.ParseSilenceMatcher(tt.in)
			assert.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, anomaly.ErrInvalidSilence)
		})
	}
}

func TestSilenceValidate(t *testing.T) {
	m := func(name, op, value string) anomaly.SilenceMatcher {
		return anomaly.SilenceMatcher{Name: name, Op: op, Value: value}
	}
	tests := []struct {
		name   string
		change func(s *anomaly.Silence)
		field  string
		want   string
	}{
		{"no matchers", func(s *anomaly.Silence) { s.Matchers = nil }, "matchers",
			"anomaly: invalid silence: matchers: at least one is required"},
		{"unknown name", func(s *anomaly.Silence) { s.Matchers = append(s.Matchers, m("user", "=", "x")) }, "matchers[1].name",
			`anomaly: invalid silence: matchers[1].name: unknown name "user" (want rule, key, groupBy, severity or tag)`},
		{"unknown op", func(s *anomaly.Silence) { s.Matchers[0].Op = "==" }, "matchers[0].op",
			`anomaly: invalid silence: matchers[0].op: unknown op "==" (want =, !=, =~ or !~)`},
		{"empty op", func(s *anomaly.Silence) { s.Matchers[0].Op = "" }, "matchers[0].op",
			`anomaly: invalid silence: matchers[0].op: unknown op "" (want =, !=, =~ or !~)`},
		{"bad regexp", func(s *anomaly.Silence) { s.Matchers[0] = m("rule", "!~", "a[") }, "matchers[0].value",
			"anomaly: invalid silence: matchers[0].value: bad regular expression \"a[\": error parsing regexp: missing closing ]: `[`"},
		{"negative only", func(s *anomaly.Silence) {
			s.Matchers = []anomaly.SilenceMatcher{m("rule", "!=", "x"), m("tag", "!~", "attack.*")}
		}, "matchers",
			`anomaly: invalid silence: matchers: at least one must not match the empty string, as Alertmanager requires (negative matchers and ones like rule=~".*" alone would silence almost every alert)`},
		{"match everything", func(s *anomaly.Silence) { s.Matchers = []anomaly.SilenceMatcher{m("rule", "=~", ".*")} }, "matchers",
			`anomaly: invalid silence: matchers: at least one must not match the empty string, as Alertmanager requires (negative matchers and ones like rule=~".*" alone would silence almost every alert)`},
		{"empty value", func(s *anomaly.Silence) { s.Matchers = []anomaly.SilenceMatcher{m("key", "=", "")} }, "matchers",
			`anomaly: invalid silence: matchers: at least one must not match the empty string, as Alertmanager requires (negative matchers and ones like rule=~".*" alone would silence almost every alert)`},
		{"no start", func(s *anomaly.Silence) { s.StartsAt = time.Time{} }, "startsAt",
			"anomaly: invalid silence: startsAt: is required"},
		{"no end", func(s *anomaly.Silence) { s.EndsAt = time.Time{} }, "endsAt",
			"anomaly: invalid silence: endsAt: is required"},
		{"ends at start", func(s *anomaly.Silence) { s.EndsAt = s.StartsAt }, "endsAt",
			"anomaly: invalid silence: endsAt: must be after startsAt, got startsAt 2026-01-01T00:00:00Z and endsAt 2026-01-01T00:00:00Z"},
		{"ends before start", func(s *anomaly.Silence) { s.EndsAt = s.StartsAt.Add(-time.Second) }, "endsAt",
			"anomaly: invalid silence: endsAt: must be after startsAt, got startsAt 2026-01-01T00:00:00Z and endsAt 2025-12-31T23:59:59Z"},
		{"no author", func(s *anomaly.Silence) { s.CreatedBy = " " }, "createdBy",
			"anomaly: invalid silence: createdBy: is required: say who made the silence"},
		{"no comment", func(s *anomaly.Silence) { s.Comment = "" }, "comment",
			"anomaly: invalid silence: comment: is required: say why the alerts are silenced"},
		{"bad id", func(s *anomaly.Silence) { s.ID = "a/b" }, "id",
			`anomaly: invalid silence: id: "a/b": at most 128 letters, digits, '-', '_' and '.'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSilence()
			tt.change(&s)
			err := s.Validate()
			require.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, anomaly.ErrInvalidSilence)
			var se *anomaly.SilenceError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.field, se.Field)
			var set anomaly.Silences
			_, err = set.Add(s, t0)
			assert.EqualError(t, err, tt.want, "Add validates")
			assert.Zero(t, set.Len())
		})
	}
	ok := validSilence(m("rule", "!=", "x"), m("tag", "=~", "attack\\..*"))
	assert.NoError(t, ok.Validate(), "one matcher that does not match the empty string is enough")
}

func TestSilenceState(t *testing.T) {
	s := validSilence()
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Nanosecond), "pending"},
		{t0, "active"}, // StartsAt is inclusive
		{t0.Add(time.Hour - time.Nanosecond), "active"},
		{t0.Add(time.Hour), "expired"}, // EndsAt is exclusive
		{t0.Add(2 * time.Hour), "expired"},
	} {
		assert.Equal(t, tt.want, s.State(tt.at), "at %s", tt.at.Format(time.RFC3339Nano))
	}

	var set anomaly.Silences
	added, err := set.Add(s, t0.Add(-time.Minute))
	require.NoError(t, err)
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Nanosecond), ""},
		{t0, added.ID},
		{t0.Add(time.Hour - time.Nanosecond), added.ID},
		{t0.Add(time.Hour), ""},
	} {
		assert.Equal(t, tt.want, set.Match(silenceAlert, tt.at), "Match at %s", tt.at.Format(time.RFC3339Nano))
	}
}

func TestSilencesAdd(t *testing.T) {
	var set anomaly.Silences
	assert.Equal(t, "", set.Match(silenceAlert, t0), "the zero set matches nothing")
	var nilSet *anomaly.Silences
	assert.Equal(t, "", nilSet.Match(silenceAlert, t0), "nor does a nil one")

	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)) // t0, in another zone
	in := validSilence()
	in.CreatedAt = t0.Add(-time.Hour) // Add sets it
	got, err := set.Add(in, now)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{16}$`), got.ID)
	want := in
	want.ID, want.CreatedAt = got.ID, t0
	assert.Equal(t, want, got)
	assert.Equal(t, time.UTC, got.CreatedAt.Location(), "times in UTC")
	assert.Equal(t, 1, set.Len())
	stored, ok := set.Get(got.ID)
	require.True(t, ok)
	assert.Equal(t, got, stored)
	_, ok = set.Get("nope")
	assert.False(t, ok)

	other, err := set.Add(validSilence(), now)
	require.NoError(t, err)
	assert.NotEqual(t, got.ID, other.ID, "random IDs")
	assert.Equal(t, got.ID, set.Match(silenceAlert, t0), "the first added matches first")

	// The same ID again replaces the silence, in its place.
	update := got
	update.Comment = "VPN migration, extended"
	update.EndsAt = t0.Add(3 * time.Hour)
	_, err = set.Add(update, now)
	require.NoError(t, err)
	assert.Equal(t, 2, set.Len())
	stored, _ = set.Get(got.ID)
	assert.Equal(t, "VPN migration, extended", stored.Comment)
	assert.Equal(t, got.ID, set.Match(silenceAlert, t0))

	// A silence that already ended is refused.
	past := validSilence()
	_, err = set.Add(past, t0.Add(time.Hour))
	assert.EqualError(t, err, "anomaly: invalid silence: endsAt: 2026-01-01T01:00:00Z is not in the future (now is 2026-01-01T01:00:00Z)")

	// What the caller keeps is not the set's.
	got.Matchers[0].Value = "changed"
	stored, _ = set.Get(got.ID)
	assert.Equal(t, "new-login-ip", stored.Matchers[0].Value)
}

func TestSilencesExpire(t *testing.T) {
	var set anomaly.Silences
	active, err := set.Add(validSilence(), t0)
	require.NoError(t, err)
	pendingIn := validSilence()
	pendingIn.StartsAt, pendingIn.EndsAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
	pending, err := set.Add(pendingIn, t0)
	require.NoError(t, err)

	at := t0.Add(10 * time.Minute)
	require.Equal(t, active.ID, set.Match(silenceAlert, at))
	got, err := set.Expire(active.ID, at)
	require.NoError(t, err)
	want := active
	want.EndsAt = at
	assert.Equal(t, want, got)
	assert.Equal(t, "expired", got.State(at))
	assert.Equal(t, "", set.Match(silenceAlert, at), "expired at at: no longer matches")
	assert.Equal(t, active.ID, set.Match(silenceAlert, at.Add(-time.Nanosecond)), "but did until then")

	// Expiring again, or later, changes nothing.
	again, err := set.Expire(active.ID, at.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, want, again)

	// A pending silence expires before it ever starts.
	got, err = set.Expire(pending.ID, at)
	require.NoError(t, err)
	want = pending
	want.StartsAt, want.EndsAt = at, at
	assert.Equal(t, want, got)
	assert.Equal(t, "", set.Match(silenceAlert, t0.Add(90*time.Minute)), "never active")

	_, err = set.Expire("nope", at)
	assert.ErrorIs(t, err, anomaly.ErrSilenceNotFound)
	assert.EqualError(t, err, `anomaly: silence not found: "nope"`)
	assert.Equal(t, 2, set.Len())
}

func TestSilencesList(t *testing.T) {
	mk := func(id string, start, end time.Duration) anomaly.Silence {
		s := validSilence()
		s.ID, s.StartsAt, s.EndsAt, s.CreatedAt = id, t0.Add(start), t0.Add(end), t0.Add(-time.Hour)
		return s
	}
	var set anomaly.Silences
	require.NoError(t, set.Restore([]anomaly.Silence{
		mk("expired-long-ago", -3*time.Hour, -2*time.Hour),
		mk("active-ends-late", -time.Hour, 5*time.Hour),
		mk("pending-starts-late", 3*time.Hour, 4*time.Hour),
		mk("expired-recently", -3*time.Hour, -time.Minute),
		mk("active-ends-soon", -time.Hour, time.Hour),
		mk("pending-starts-soon", time.Hour, 9*time.Hour),
		mk("active-ends-soon-b", -time.Minute, time.Hour), // a tie, by ID
	}))
	var ids, states []string
	for _, s := range set.List(t0) {
		ids, states = append(ids, s.ID), append(states, s.State(t0))
	}
	assert.Equal(t, []string{
		"active-ends-soon", "active-ends-soon-b", "active-ends-late",
		"pending-starts-soon", "pending-starts-late",
		"expired-recently", "expired-long-ago",
	}, ids)
	assert.Equal(t, []string{"active", "active", "active", "pending", "pending", "expired", "expired"}, states)
	assert.Empty(t, new(anomaly.Silences).List(t0))
}

func TestSilencesRestore(t *testing.T) {
	created := t0.Add(-time.Hour)
	first := validSilence()
	first.ID, first.CreatedAt = "0000000000000001", created
	second := first
	second.Comment = "second write"
	expiredPending := first
	expiredPending.ID, expiredPending.StartsAt, expiredPending.EndsAt = "0000000000000002", t0, t0 // as Expire leaves a pending one
	bad := first
	bad.ID, bad.Matchers = "0000000000000003", []anomaly.SilenceMatcher{{Name: "rule", Op: "=~", Value: "("}}
	noID := first
	noID.ID = ""

	var set anomaly.Silences
	err := set.Restore([]anomaly.Silence{first, expiredPending, bad, second, noID})
	assert.EqualError(t, err, "silence 0000000000000003: anomaly: invalid silence: matchers[0].value: bad regular expression \"(\": error parsing regexp: missing closing ): `(`\n"+
		"anomaly: invalid silence: id: is required to restore a silence")
	assert.ErrorIs(t, err, anomaly.ErrInvalidSilence)
	assert.Equal(t, []anomaly.Silence{second, expiredPending}, set.List(t0), "the last write of an ID wins; the bad ones are left out")
	assert.Equal(t, created, set.List(t0)[0].CreatedAt, "CreatedAt as stored")
	assert.Equal(t, "0000000000000001", set.Match(silenceAlert, t0))

	// Restoring over a set replaces by ID and keeps the others.
	third := second
	third.Comment = "third"
	require.NoError(t, set.Restore([]anomaly.Silence{third}))
	assert.Equal(t, 2, set.Len())
	got, _ := set.Get(third.ID)
	assert.Equal(t, "third", got.Comment)
}

func TestSilenceJSON(t *testing.T) {
	s := validSilence()
	s.ID, s.CreatedAt = "3f2a5b7c9d0e1f20", t0.Add(-time.Minute)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"3f2a5b7c9d0e1f20","matchers":[{"name":"rule","op":"=","value":"new-login-ip"}],
		"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T01:00:00Z","createdBy":"alice","comment":"VPN migration",
		"createdAt":"2025-12-31T23:59:00Z"}`, string(b))
	var back anomaly.Silence
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
}

// Adding, expiring, listing and matching at once, under -race: every
// Match sees a whole set.
func TestSilencesConcurrent(t *testing.T) {
	var set anomaly.Silences
	base, err := set.Add(validSilence(), t0)
	require.NoError(t, err)
	var wg sync.WaitGroup
	const writers, each = 4, 50
	ids := make(chan string, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				s := validSilence(anomaly.SilenceMatcher{Name: "key", Op: "=", Value: fmt.Sprintf("user-%d-%d", w, i)})
				got, err := set.Add(s, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if _, err := set.Expire(got.ID, t0); err != nil {
						t.Error(err)
					}
				}
				ids <- got.ID
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 500 {
				if got := set.Match(silenceAlert, t0); got != base.ID {
					t.Errorf("Match = %q, want the first silence %q", got, base.ID)
					return
				}
				_ = set.List(t0)
			}
		})
	}
	wg.Wait()
	close(ids)
	assert.Equal(t, 1+writers*each, set.Len())
	n := 0
	for id := range ids {
		s, ok := set.Get(id)
		require.True(t, ok)
		if s.State(t0) == "expired" {
			n++
		}
	}
	assert.Equal(t, writers*each/2, n, "half expired")
	_, err = set.Expire(base.ID, t0)
	require.NoError(t, err)
	assert.Equal(t, "", set.Match(silenceAlert, t0))
}

func BenchmarkSilencesMatch(b *testing.B) {
	for _, n := range []int{0, 1, 50} {
		b.Run(fmt.Sprintf("silences=%d", n), func(b *testing.B) {
			var set anomaly.Silences
			for i := range n {
				// None matches: every silence is looked at.
				s := validSilence(anomaly.SilenceMatcher{Name: "rule", Op: "=~", Value: fmt.Sprintf("rule-%d|other-.*", i)},
					anomaly.SilenceMatcher{Name: "key", Op: "=", Value: "bob"})
				if _, err := set.Add(s, t0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if set.Match(silenceAlert, t0) != "" {
					b.Fatal("matched")
				}
			}
		})
	}
}

// A silence of one rule for two hours: its alerts are marked, others not.
func ExampleSilences() {
	var silences anomaly.Silences
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	m, _ := anomaly.ParseSilenceMatcher(`rule="new-login-ip"`)
	s, err := silences.Add(anomaly.Silence{
		ID:       "vpn-migration", // optional: Add makes one up when empty
		Matchers: []anomaly.SilenceMatcher{m}, StartsAt: now, EndsAt: now.Add(2 * time.Hour),
		CreatedBy: "alice", Comment: "VPN migration: every user logs in from a new address",
	}, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ID, s.State(now), s.Matchers[0])
	newIP := anomaly.Alert{Rule: "new-login-ip", Key: "u-1842"}
	burst := anomaly.Alert{Rule: "failed-login-burst", Key: "u-1842"}
	fmt.Printf("%q %q\n", silences.Match(newIP, now.Add(time.Hour)), silences.Match(burst, now.Add(time.Hour)))
	fmt.Printf("%q\n", silences.Match(newIP, now.Add(2*time.Hour))) // EndsAt is exclusive
	// Output:
	// vpn-migration active rule="new-login-ip"
	// "vpn-migration" ""
	// ""
}
