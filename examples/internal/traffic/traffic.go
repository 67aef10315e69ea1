// Package traffic makes realistic, reproducible synthetic security events:
// benign activity from a population of users, with attacks injected at known
// times. It records the ground truth — which attack, against which key, when
// — so tests can check detection against it. The generator app and the
// dashboard's built-in generator both use it.
package traffic

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/rdr-go/rdr"
)

// Kind names an attack the generator can inject.
type Kind string

// The attacks, each shaped to be caught by one rule of the default rule set.
const (
	BruteForce         Kind = "brute_force"         // many login_failed for one user within a minute
	BruteForceSuccess  Kind = "brute_force_success" // failures then a login_success for the same user
	CredentialStuffing Kind = "credential_stuffing" // one IP failing logins for many users
	NewIP              Kind = "new_ip"              // an established user logs in from a never-seen IP
	PrivilegeChange    Kind = "privilege_change"    // a user's first privilege_change
	VolumeSpike        Kind = "volume_spike"        // one user's file_access rate jumps far above normal
)

// AllKinds lists every attack kind, in the order the generator cycles
// through them.
var AllKinds = []Kind{BruteForce, BruteForceSuccess, CredentialStuffing, NewIP, PrivilegeChange, VolumeSpike}

// Attack is one injected attack: its kind, the key the detection should
// name (a user id or an IP), and the event time of its first and last event.
type Attack struct {
	Kind   Kind      `json:"kind"`
	Key    string    `json:"key"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Events int       `json:"events"`
}

// Config configures a Generator. The zero value is valid.
type Config struct {
	// Seed makes runs reproducible: the same Config gives the same events.
	Seed uint64
	// Start is the event time of the first event. Optional; default
	// 2026-11-26T10:00:00Z.
	Start time.Time
	// Rate is the benign events per second of event time. Optional;
	// default 200.
	Rate float64
	// Users is the number of benign users. Optional; default 2,000.
	Users int
	// IPs is the number of benign source IPs (users share them, as behind
	// NAT). Optional; default 400.
	IPs int
	// AttackEvery is the event time between two injected attacks; negative
	// means no attacks. Optional; default 20 s.
	AttackEvery time.Duration
	// Kinds are the attacks to cycle through. Optional; default AllKinds.
	Kinds []Kind
	// InvalidEvery makes every n-th record an invalid event (see
	// [Generator.NextRecord]); 0 means none.
	InvalidEvery int
}

func (c *Config) setDefaults() {
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	}
	if c.Rate <= 0 {
		c.Rate = 200
	}
	if c.Users <= 0 {
		c.Users = 2000
	}
	if c.IPs <= 0 {
		c.IPs = 400
	}
	if c.AttackEvery == 0 {
		c.AttackEvery = 20 * time.Second
	}
	if len(c.Kinds) == 0 {
		c.Kinds = AllKinds
	}
}

// benign event types and their weights (per mille).
var benign = []struct {
	typ    string
	weight int
	sev    rdr.Severity
}{
	{"file_access", 380, rdr.SeverityLow},
	{"api_call", 250, rdr.SeverityLow},
	{"login_success", 140, rdr.SeverityLow},
	{"logout", 110, rdr.SeverityLow},
	{"mfa_challenge", 60, rdr.SeverityMedium}, // each followed by an mfa_success
	{"password_reset", 15, rdr.SeverityMedium},
	{"file_delete", 42, rdr.SeverityMedium},
	{"login_failed", 3, rdr.SeverityMedium},
}

var apps = []string{"vpn", "mail", "crm", "git", "wiki", "hr"}

// Generator makes the event stream. It is not safe for concurrent use.
type Generator struct {
	cfg      Config
	rng      *rand.Rand
	zipf     *rand.Zipf
	now      time.Time // event time of the next benign event
	step     time.Duration
	nextAtk  time.Time
	kindIdx  int
	pending  []rdr.Event // attack events not yet returned, sorted by time
	truth    []Attack
	records  int
	attackNo int
}

// New returns a Generator for cfg.
func New(cfg Config) *Generator {
	cfg.setDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	g := &Generator{
		cfg:     cfg,
		rng:     rng,
		zipf:    rand.NewZipf(rng, 1.1, 4, uint64(cfg.Users-1)),
		now:     cfg.Start,
		step:    time.Duration(float64(time.Second) / cfg.Rate),
		nextAtk: cfg.Start.Add(cfg.AttackEvery),
	}
	if cfg.AttackEvery < 0 {
		g.nextAtk = time.Time{}
	}
	return g
}

// User returns the id of benign user i.
func User(i int) string { return fmt.Sprintf("u-%05d", i) }

// homeIP is the one address benign user i always comes from.
func (g *Generator) homeIP(i int) netip.Addr {
	n := i % g.cfg.IPs
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// Next returns the next event, in event-time order.
func (g *Generator) Next() rdr.Event {
	if !g.nextAtk.IsZero() && !g.now.Before(g.nextAtk) {
		g.inject(g.nextAtk)
		g.nextAtk = g.nextAtk.Add(g.cfg.AttackEvery)
	}
	if len(g.pending) > 0 && !g.pending[0].Time.After(g.now) {
		ev := g.pending[0]
		g.pending = g.pending[1:]
		return ev
	}
	ev := g.benignEvent()
	g.now = g.now.Add(g.step)
	return ev
}

// Record is one item of a generated stream: the wire bytes and, for a
// valid event, the event. Invalid records carry the reason they are bad.
type Record struct {
	Event   rdr.Event
	JSON    []byte
	Invalid string // "" for a valid event
}

// NextRecord returns the next event as wire JSON; when Config.InvalidEvery
// is set, every n-th record is a broken event instead, with the reason.
func (g *Generator) NextRecord() Record {
	g.records++
	if n := g.cfg.InvalidEvery; n > 0 && g.records%n == 0 {
		return g.invalid()
	}
	ev := g.Next()
	return Record{Event: ev, JSON: rdr.AppendJSON(nil, ev)}
}

// invalid makes one broken record, cycling through kinds of breakage.
func (g *Generator) invalid() Record {
	ts := g.now.UTC().Format(time.RFC3339Nano)
	switch (g.records / g.cfg.InvalidEvery) % 4 {
	case 0:
		return Record{JSON: []byte(`{"timestamp":"` + ts + `","eventType":"login_success","userId":"","severity":"low"}`), Invalid: "userId"}
	case 1:
		return Record{JSON: []byte(`{"timestamp":"` + ts + `","eventType":"login_success","userId":"u-x","severity":"urgent"}`), Invalid: "severity"}
	case 2:
		return Record{JSON: []byte(`{"timestamp":"not-a-time","eventType":"login_success","userId":"u-x","severity":"low"}`), Invalid: "timestamp"}
	default:
		return Record{JSON: []byte(`{"timestamp":"` + ts + `","eventType":"login_success",`), Invalid: "malformed"}
	}
}

// Truth returns the attacks injected so far.
func (g *Generator) Truth() []Attack { return append([]Attack{}, g.truth...) }

func (g *Generator) benignEvent() rdr.Event {
	r := g.rng.IntN(1000)
	k := benign[0]
	for _, b := range benign {
		if r < b.weight {
			k = b
			break
		}
		r -= b.weight
	}
	var u int
	if k.typ == "login_failed" {
		u = g.rng.IntN(g.cfg.Users) // typos happen to anyone, not in proportion to activity
	} else {
		u = int(g.zipf.Uint64())
	}
	ev := rdr.Event{
		Time:     g.now,
		Type:     k.typ,
		UserID:   User(u),
		IP:       g.homeIP(u),
		Severity: k.sev,
		Metadata: rdr.MakeMetadata("app", apps[u%len(apps)]),
	}
	if k.typ == "mfa_challenge" { // answered a few seconds later
		ok := ev
		ok.Time = ev.Time.Add(time.Duration(1+g.rng.IntN(5)) * time.Second)
		ok.Type, ok.Severity = "mfa_success", rdr.SeverityLow
		g.schedule(ok)
	}
	return ev
}

// schedule queues events to be returned in event-time order.
func (g *Generator) schedule(evs ...rdr.Event) {
	g.pending = append(g.pending, evs...)
	slices.SortStableFunc(g.pending, func(a, b rdr.Event) int { return a.Time.Compare(b.Time) })
}

// attacker returns a source address outside the benign pool.
func (g *Generator) attacker() netip.Addr {
	g.attackNo++
	return netip.AddrFrom4([4]byte{203, 0, 113, byte(g.attackNo)})
}

// victim picks a benign user that has already been active, so that rules
// with a warm-up know them.
func (g *Generator) victim() int { return g.rng.IntN(min(g.cfg.Users, 50)) }

func (g *Generator) inject(at time.Time) {
	kind := g.cfg.Kinds[g.kindIdx%len(g.cfg.Kinds)]
	g.kindIdx++
	var evs []rdr.Event
	var key string
	add := func(t time.Time, typ, user string, ip netip.Addr, sev rdr.Severity, md rdr.Metadata) {
		evs = append(evs, rdr.Event{Time: t, Type: typ, UserID: user, IP: ip, Severity: sev, Metadata: md})
	}
	ms := time.Millisecond
	switch kind {
	case BruteForce, BruteForceSuccess:
		u := g.victim()
		ip := g.attacker()
		key = User(u)
		for i := range 8 {
			add(at.Add(time.Duration(i)*700*ms), "login_failed", key, ip, rdr.SeverityMedium, rdr.MakeMetadata("app", "vpn"))
		}
		if kind == BruteForceSuccess {
			add(at.Add(6*time.Second), "login_success", key, ip, rdr.SeverityLow, rdr.MakeMetadata("app", "vpn"))
		}
	case CredentialStuffing:
		ip := g.attacker()
		key = ip.String()
		for i := range 30 {
			add(at.Add(time.Duration(i)*300*ms), "login_failed", fmt.Sprintf("stuffed-%03d-%d", i, g.attackNo), ip, rdr.SeverityMedium, rdr.MakeMetadata("app", "mail"))
		}
	case NewIP:
		u := g.victim()
		key = User(u)
		add(at, "login_success", key, g.attacker(), rdr.SeverityLow, rdr.MakeMetadata("app", "vpn", "country", "KP"))
	case PrivilegeChange:
		u := g.victim()
		key = User(u)
		add(at, "privilege_change", key, g.homeIP(u), rdr.SeverityHigh, rdr.MakeMetadata("role", "admin", "app", "hr"))
	case VolumeSpike:
		u := g.victim() // an active user, whose baseline the detector knows
		key = User(u)
		for i := range 400 {
			add(at.Add(time.Duration(i)*25*ms), "file_access", key, g.homeIP(u), rdr.SeverityLow, rdr.MakeMetadata("app", "git"))
		}
	}
	g.truth = append(g.truth, Attack{Kind: kind, Key: key, Start: evs[0].Time, End: evs[len(evs)-1].Time, Events: len(evs)})
	g.schedule(evs...)
}
