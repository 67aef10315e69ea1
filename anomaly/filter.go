package anomaly

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/rdr-go/rdr"
)

// Field names a part of an event that a rule groups by or a detector reads:
// the user, the IP address, the event type, the severity, or one top-level
// metadata key. The zero Field is [FieldUserID].
//
// Fields are small values, comparable with ==, and safe for concurrent use.
type Field struct {
	kind  fieldKind
	key   string      // the metadata key, for kind fieldMetadata
	multi *fieldMulti // for kinds fieldComposite and fieldAlias
}

// fieldMulti is what a composite or alias field is made of. Equal ones
// are interned, so Fields made alike compare equal.
type fieldMulti struct {
	name   string
	fields []Field
	when   []Matcher // fieldAlias: fields[i] is read from events that match when[i]
}

type fieldKind uint8

const (
	fieldUserID fieldKind = iota
	fieldIP
	fieldType
	fieldSeverity
	fieldMetadata
	fieldComposite
	fieldAlias
)

// The fixed fields of an event. Use [MetadataField] for a metadata key.
var (
	FieldUserID   = Field{kind: fieldUserID}
	FieldIP       = Field{kind: fieldIP}
	FieldType     = Field{kind: fieldType}
	FieldSeverity = Field{kind: fieldSeverity}
)

// MetadataField returns the Field for a metadata key, read with
// [rdr.Metadata.Lookup]. A key with dots that is not a top-level key is a
// path into nested objects: "process.name" reads {"process":{"name":…}}
// unless the metadata has a top-level "process.name".
func MetadataField(key string) Field { return Field{kind: fieldMetadata, key: key} }

var interned sync.Map // name → *fieldMulti

func intern(m *fieldMulti) *fieldMulti {
	v, _ := interned.LoadOrStore(m.name, m)
	return v.(*fieldMulti)
}

// CompositeField returns a Field made of several: its value is theirs
// joined by commas (a comma or backslash in a value escaped with a
// backslash), and an event lacking any of them lacks it. A Sigma
// correlation grouped by host and user groups by one. Its name is the
// fields' names joined by commas: "metadata.host,userId". One field is
// that field itself.
func CompositeField(fields ...Field) Field {
	if len(fields) == 1 {
		return fields[0]
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.String()
	}
	return Field{kind: fieldComposite, multi: intern(&fieldMulti{name: strings.Join(names, ","), fields: slices.Clone(fields)})}
}

// AliasField returns a Field read from different fields in different
// events, as a Sigma correlation's aliases are: from fields[i] in events
// that match when[i] (the first that matches), missing in others. name
// names the alias; whatID tells the aliases of one name apart (the
// correlation's ID), as the Field's name includes it.
func AliasField(name, whatID string, when []Matcher, fields []Field) Field {
	full := name + "@" + whatID
	return Field{kind: fieldAlias, multi: intern(&fieldMulti{name: full, fields: slices.Clone(fields), when: slices.Clone(when)})}
}

// ParseField parses a field by its wire name: "userId", "ipAddress",
// "eventType", "severity", or "metadata.KEY".
func ParseField(s string) (Field, error) {
	switch s {
	case "userId":
		return FieldUserID, nil
	case "ipAddress":
		return FieldIP, nil
	case "eventType":
		return FieldType, nil
	case "severity":
		return FieldSeverity, nil
	}
	if key, ok := strings.CutPrefix(s, "metadata."); ok && key != "" && !strings.Contains(key, ",") {
		return MetadataField(key), nil
	}
	if strings.Contains(s, ",") {
		var fields []Field
		for part := range strings.SplitSeq(s, ",") {
			f, err := ParseField(part)
			if err != nil {
				return Field{}, err
			}
			fields = append(fields, f)
		}
		return CompositeField(fields...), nil
	}
	return Field{}, fmt.Errorf("unknown field %q (want userId, ipAddress, eventType, severity, metadata.KEY, or several of them joined by commas)", s)
}

// valid reports whether f is a field: one of the fixed ones, a metadata
// key, or a composite or alias field.
func (f Field) valid() bool {
	switch f.kind {
	case fieldMetadata:
		return f.key != ""
	case fieldComposite, fieldAlias:
		return f.multi != nil
	}
	return f.kind < fieldMetadata
}

// String returns the wire name, as ParseField accepts it (an alias
// field's name is not one it parses).
func (f Field) String() string {
	switch f.kind {
	case fieldIP:
		return "ipAddress"
	case fieldType:
		return "eventType"
	case fieldSeverity:
		return "severity"
	case fieldMetadata:
		return "metadata." + f.key
	case fieldComposite, fieldAlias:
		return f.multi.name
	}
	return "userId"
}

// Value returns the field's value in ev as text, and whether ev has it. An
// empty userId or eventType, an invalid IP or severity, and an absent
// metadata key all count as missing. Value allocates only for ipAddress
// (and for metadata values that hold JSON escapes); use AppendValue on a hot
// path.
func (f Field) Value(ev rdr.Event) (string, bool) {
	switch f.kind {
	case fieldUserID:
		return ev.UserID, ev.UserID != ""
	case fieldType:
		return ev.Type, ev.Type != ""
	case fieldSeverity:
		if !ev.Severity.Valid() {
			return "", false
		}
		return ev.Severity.String(), true
	case fieldIP:
		if !ev.IP.IsValid() {
			return "", false
		}
		return ev.IP.String(), true
	case fieldMetadata:
		return lookupPath(ev.Metadata, f.key)
	case fieldComposite:
		var b []byte
		for i, sub := range f.multi.fields {
			v, ok := sub.Value(ev)
			if !ok {
				return "", false
			}
			if i > 0 {
				b = append(b, ',')
			}
			for j := range len(v) {
				if v[j] == ',' || v[j] == '\\' {
					b = append(b, '\\')
				}
				b = append(b, v[j])
			}
		}
		return string(b), true
	case fieldAlias:
		return f.aliasValue(ev)
	}
	return "", false
}

// matchExpr is apart from Match for the reason aliasValue is apart from
// Value: the Matcher, an interface, takes the address of the event, which
// sends it to the heap. Here only filters with an Expr pay for that copy;
// in Match, every event every rule looked at was copied to the heap (one
// allocation of ~100 bytes an event and rule: three an event in an alert
// storm).
func matchExpr(m Matcher, ev rdr.Event) bool { return m.MatchEvent(&ev) }

// aliasValue is Value for an alias field: apart, so that only alias
// fields pay for the copy of ev that the matchers take the address of.
func (f Field) aliasValue(ev rdr.Event) (string, bool) {
	e := ev
	for i, m := range f.multi.when {
		if m.MatchEvent(&e) {
			return f.multi.fields[i].Value(ev)
		}
	}
	return "", false
}

// lookupPath reads a metadata key, or a dotted path into nested objects
// when there is no top-level key of that name.
func lookupPath(m rdr.Metadata, key string) (string, bool) {
	v, ok := m.Lookup(key)
	if ok || !strings.Contains(key, ".") {
		return v, ok
	}
	for {
		head, rest, more := strings.Cut(key, ".")
		if !more {
			return m.Lookup(key)
		}
		v, ok := m.Lookup(head)
		if !ok || v == "" || v[0] != '{' {
			return "", false
		}
		m, key = rdr.Metadata(v), rest
	}
}

// AppendValue appends the field's value in ev, as text, to dst. It reports
// false, leaving dst as it was, when ev does not have the field.
func (f Field) AppendValue(dst []byte, ev rdr.Event) ([]byte, bool) {
	if f.kind == fieldIP {
		if !ev.IP.IsValid() {
			return dst, false
		}
		return ev.IP.AppendTo(dst), true
	}
	v, ok := f.Value(ev)
	if !ok {
		return dst, false
	}
	return append(dst, v...), true
}

// has reports whether ev has the field, without formatting it.
func (f Field) has(ev *rdr.Event) bool {
	switch f.kind {
	case fieldIP:
		return ev.IP.IsValid()
	case fieldMetadata:
		_, ok := lookupPath(ev.Metadata, f.key)
		return ok
	}
	_, ok := f.Value(*ev)
	return ok
}

// hash returns a 64-bit hash of the field's value in ev, without allocating.
// Detectors that only need to tell values apart (distinct counts, first-seen
// sets) keep these instead of strings: 8 bytes a value, and no string to
// clone. Two different values collide with probability 2⁻⁶⁴.
func (f Field) hash(seed hashSeed, ev *rdr.Event) (uint64, bool) {
	if f.kind == fieldIP {
		if !ev.IP.IsValid() {
			return 0, false
		}
		a := ev.IP.As16()
		h := seed.string(unsafe.String(&a[0], len(a)))
		if ev.IP.Is4() {
			h ^= 0x9e3779b97f4a7c15 // keep 1.2.3.4 apart from ::ffff:1.2.3.4
		}
		if z := ev.IP.Zone(); z != "" {
			h ^= seed.string(z)
		}
		return h, true
	}
	v, ok := f.Value(*ev)
	if !ok {
		return 0, false
	}
	return seed.string(v), true
}

// Filter selects events. Every non-empty part must match; an empty part
// matches everything, so the zero Filter matches every event. Within a part
// the listed values are alternatives ("eventType is login_failed or
// login_success").
//
// A Filter is read-only once handed to an [Engine]; it is then safe for
// concurrent use.
type Filter struct {
	// Types: the event type is one of these.
	Types []string
	// Severities: the severity is one of these.
	Severities []rdr.Severity
	// MinSeverity: the severity is at least this. Zero means no bound.
	MinSeverity rdr.Severity
	// Users: the user is one of these.
	Users []string
	// Networks: the IP address lies in one of these prefixes (a single
	// address is a /32 or /128 prefix). Events without an IP do not match.
	Networks []netip.Prefix
	// Metadata: every listed key has one of its values.
	Metadata []MetadataMatch
	// Expr, when set, must match too: a condition the parts above cannot
	// express, such as a Sigma rule's detection. It is checked after them,
	// so a Types list in front keeps it off events of other types.
	Expr Matcher
	// Not, when set, excludes the events it matches.
	Not *Filter
}

// Matcher is a condition on one event. MatchEvent must not keep ev or
// anything it points into, and must be safe for concurrent use once the
// Matcher is handed to an [Engine] (engines of several partitions share
// a rule set's matchers only if it was built once; the rule loaders build
// one per set of rules).
type Matcher interface {
	MatchEvent(ev *rdr.Event) bool
}

// MetadataMatch is one metadata condition of a [Filter]: the top-level key
// Key is present and, when Values is not empty, its text (as
// [rdr.Metadata.Lookup] returns it) is one of Values.
type MetadataMatch struct {
	Key    string
	Values []string
}

// Match reports whether ev passes the filter.
func (f *Filter) Match(ev *rdr.Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, ev.Type) {
		return false
	}
	if f.MinSeverity != 0 && ev.Severity < f.MinSeverity {
		return false
	}
	if len(f.Severities) > 0 && !slices.Contains(f.Severities, ev.Severity) {
		return false
	}
	if len(f.Users) > 0 && !slices.Contains(f.Users, ev.UserID) {
		return false
	}
	if len(f.Networks) > 0 && !inNetworks(f.Networks, ev.IP) {
		return false
	}
	for _, m := range f.Metadata {
		v, ok := lookupPath(ev.Metadata, m.Key)
		if !ok || len(m.Values) > 0 && !slices.Contains(m.Values, v) {
			return false
		}
	}
	if f.Expr != nil && !matchExpr(f.Expr, *ev) {
		return false
	}
	if f.Not != nil && f.Not.Match(ev) {
		return false
	}
	return true
}

func (f *Filter) validate() error {
	for _, s := range f.Severities {
		if !s.Valid() {
			return fmt.Errorf("severities: invalid severity %d", uint8(s))
		}
	}
	if f.MinSeverity != 0 && !f.MinSeverity.Valid() {
		return fmt.Errorf("minSeverity: invalid severity %d", uint8(f.MinSeverity))
	}
	for _, p := range f.Networks {
		if !p.IsValid() {
			return fmt.Errorf("networks: invalid prefix %v", p)
		}
	}
	for _, m := range f.Metadata {
		if m.Key == "" {
			return fmt.Errorf("metadata: empty key")
		}
	}
	if f.Not != nil {
		if err := f.Not.validate(); err != nil {
			return fmt.Errorf("not: %w", err)
		}
	}
	return nil
}

func inNetworks(nets []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
