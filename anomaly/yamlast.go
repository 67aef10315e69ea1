package anomaly

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/rdr-go/rdr"
)

// This file holds the small layer over go-yaml's syntax tree that rule files
// and rule test files are read with: reading the tree (rather than
// unmarshaling into structs) lets every error name the field and its line.

// parseYAML parses data into documents' bodies (nil bodies left out). A
// syntax error comes back as its message and line.
func parseYAML(data []byte) ([]ast.Node, string, int) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			line := 0
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
			return nil, "YAML: " + ye.GetMessage(), line
		}
		return nil, "YAML: " + err.Error(), 0
	}
	var bodies []ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			bodies = append(bodies, d.Body)
		}
	}
	return bodies, "", 0
}

// unwrap looks through tags and anchors to the value.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

// lineOf is n's line, or 0.
func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// entry is one key of a YAML mapping.
type entry struct {
	key   string
	line  int
	value ast.Node // unwrapped; nil for an empty value
}

// entries returns the keys of a mapping in order, or ok=false if n is not
// a mapping.
func entries(n ast.Node) ([]entry, bool) {
	var mvs []*ast.MappingValueNode
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		mvs = v.Values
	case *ast.MappingValueNode:
		mvs = []*ast.MappingValueNode{v}
	default:
		return nil, false
	}
	out := make([]entry, 0, len(mvs))
	for _, mv := range mvs {
		k := ""
		switch kn := unwrap(mv.Key).(type) {
		case *ast.StringNode:
			k = kn.Value
		default:
			if tk := mv.Key.GetToken(); tk != nil {
				k = tk.Value
			}
		}
		var val ast.Node
		if mv.Value != nil {
			val = unwrap(mv.Value)
			if _, null := val.(*ast.NullNode); null {
				val = nil
			}
		}
		out = append(out, entry{key: k, line: lineOf(mv.Key), value: val})
	}
	return out, true
}

// kindOf names a node's YAML kind for error messages.
func kindOf(n ast.Node) string {
	switch unwrap(n).(type) {
	case nil:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.AliasNode:
		return "an alias (aliases are not supported)"
	}
	return "a string"
}

// scalarText is the text of a scalar: a string's value, or a number's or
// boolean's source text. ok is false for anything else.
func scalarText(n ast.Node) (string, bool) {
	switch v := unwrap(n).(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// yamlErr is an error found at a line, for a field.
type yamlErr struct {
	line   int
	field  string
	reason string
}

func errAt(n ast.Node, field, format string, args ...any) *yamlErr {
	return &yamlErr{line: lineOf(n), field: field, reason: fmt.Sprintf(format, args...)}
}

func (e *yamlErr) Error() string { return e.field + ": " + e.reason }

func str(n ast.Node, field string) (string, *yamlErr) {
	switch unwrap(n).(type) {
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := scalarText(n)
		return s, nil
	}
	return "", errAt(n, field, "want a string, got %s", kindOf(n))
}

// strs reads one scalar or a list of scalars as text.
func strs(n ast.Node, field string) ([]string, *yamlErr) {
	if seq, ok := unwrap(n).(*ast.SequenceNode); ok {
		if len(seq.Values) == 0 {
			return nil, errAt(n, field, "empty list")
		}
		out := make([]string, 0, len(seq.Values))
		for i, v := range seq.Values {
			s, ok := scalarText(v)
			if !ok {
				return nil, errAt(v, field, "item %d: want a string, got %s", i+1, kindOf(v))
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalarText(n)
	if !ok {
		return nil, errAt(n, field, "want a string or a list of strings, got %s", kindOf(n))
	}
	return []string{s}, nil
}

func integer(n ast.Node, field string, lo, hi int64) (int64, *yamlErr) {
	v, ok := unwrap(n).(*ast.IntegerNode)
	if !ok {
		return 0, errAt(n, field, "want a whole number, got %s", kindOf(n))
	}
	var x int64
	switch i := v.Value.(type) {
	case int64:
		x = i
	case uint64:
		if i > math.MaxInt64 {
			return 0, errAt(n, field, "must be at most %d, got %s", hi, v.GetToken().Value)
		}
		x = int64(i)
	default:
		return 0, errAt(n, field, "want a whole number, got %s", v.GetToken().Value)
	}
	if x < lo || x > hi {
		return 0, errAt(n, field, "must be between %d and %d, got %d", lo, hi, x)
	}
	return x, nil
}

func number(n ast.Node, field string) (float64, *yamlErr) {
	switch v := unwrap(n).(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		f, err := strconv.ParseFloat(strings.ReplaceAll(v.GetToken().Value, "_", ""), 64)
		if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
		return 0, errAt(n, field, "want a finite number, got %s", v.GetToken().Value)
	}
	return 0, errAt(n, field, "want a number, got %s", kindOf(n))
}

// parseDuration is rdr.ParseDuration with the rule files' error text.
func parseDuration(s string) (time.Duration, error) {
	d, err := rdr.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use 30s, 5m, 1h, 7d…)", s)
	}
	return d, nil
}

// duration reads a duration; min is the smallest accepted value.
func duration(n ast.Node, field string, min time.Duration) (time.Duration, *yamlErr) {
	s, ok := scalarText(n)
	if !ok {
		return 0, errAt(n, field, "want a duration like 5m, got %s", kindOf(n))
	}
	if s == "0" {
		s = "0s"
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, errAt(n, field, "%v", err)
	}
	if d < min {
		if min == 1 {
			return 0, errAt(n, field, "must be positive, got %s", s)
		}
		return 0, errAt(n, field, "must be at least %s, got %s", formatDuration(min), s)
	}
	return d, nil
}

func severity(n ast.Node, field string) (rdr.Severity, *yamlErr) {
	s, ok := scalarText(n)
	if !ok {
		return 0, errAt(n, field, "want low, medium, high or critical, got %s", kindOf(n))
	}
	sev, err := rdr.ParseSeverity(s)
	if err != nil {
		return 0, errAt(n, field, "unknown severity %q (want low, medium, high or critical)", s)
	}
	return sev, nil
}

// filter reads a filter mapping:
//
//	eventType: login_failed | [a, b]      userId: alice | [..]
//	ipAddress: 10.0.0.0/8 | [addr, prefix…]
//	severity: high | [high, critical]    min-severity: high
//	metadata: {app: vpn, country: [RU, KP]}   (or metadata.app: vpn)
//	not: {…another filter…}
func filter(n ast.Node, field string) (Filter, *yamlErr) {
	var f Filter
	es, ok := entries(n)
	if !ok {
		return f, errAt(n, field, "want a mapping (eventType, userId, ipAddress, severity, min-severity, metadata, not), got %s", kindOf(n))
	}
	for _, e := range es {
		sub := field + "." + e.key
		if e.value == nil {
			return f, &yamlErr{line: e.line, field: sub, reason: "has no value"}
		}
		var err *yamlErr
		switch {
		case e.key == "eventType":
			f.Types, err = strs(e.value, sub)
		case e.key == "userId":
			f.Users, err = strs(e.value, sub)
		case e.key == "ipAddress":
			var list []string
			if list, err = strs(e.value, sub); err == nil {
				for _, s := range list {
					p, perr := parsePrefix(s)
					if perr != nil {
						return f, errAt(e.value, sub, "%q is not an IP address or prefix", s)
					}
					f.Networks = append(f.Networks, p)
				}
			}
		case e.key == "severity":
			var list []string
			if list, err = strs(e.value, sub); err == nil {
				for _, s := range list {
					sev, serr := rdr.ParseSeverity(s)
					if serr != nil {
						return f, errAt(e.value, sub, "unknown severity %q (want low, medium, high or critical)", s)
					}
					f.Severities = append(f.Severities, sev)
				}
			}
		case e.key == "min-severity":
			f.MinSeverity, err = severity(e.value, sub)
		case e.key == "metadata":
			ms, ok := entries(e.value)
			if !ok {
				return f, errAt(e.value, sub, "want a mapping of metadata keys to values, got %s", kindOf(e.value))
			}
			for _, m := range ms {
				mm := MetadataMatch{Key: m.key}
				if m.value != nil {
					if mm.Values, err = strs(m.value, sub+"."+m.key); err != nil {
						return f, err
					}
				}
				f.Metadata = append(f.Metadata, mm)
			}
		case strings.HasPrefix(e.key, "metadata.") && len(e.key) > len("metadata."):
			mm := MetadataMatch{Key: e.key[len("metadata."):]}
			mm.Values, err = strs(e.value, sub)
			f.Metadata = append(f.Metadata, mm)
		case e.key == "not":
			var not Filter
			not, err = filter(e.value, sub)
			f.Not = &not
		default:
			return f, &yamlErr{line: e.line, field: sub, reason: "unknown filter field (want eventType, userId, ipAddress, severity, min-severity, metadata, metadata.KEY or not)"}
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	p := netip.PrefixFrom(a, a.BitLen())
	if !p.IsValid() {
		return p, fmt.Errorf("invalid prefix")
	}
	return p, nil
}
