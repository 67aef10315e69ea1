package sigma

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rdr-go/rdr/anomaly"
)

//go:embed mappings/rdr.yaml
var defaultMappingYAML []byte

// Mapping says how Sigma rules apply to rdr's events, as pySigma's
// processing pipelines do for a backend: which logsources the events are,
// and which event field each Sigma field name reads. A rule whose
// logsource or fields it does not cover is refused.
type Mapping struct {
	// Name names the mapping in errors.
	Name string
	// Logsources are the logsources the events are, in order; the first
	// that covers a rule applies.
	Logsources []Logsource
	// Fields maps Sigma field names (as rules spell them) to rdr fields.
	Fields map[string]anomaly.Field
	// RdrFields accepts rdr's own field names (userId, ipAddress,
	// eventType, severity, metadata.KEY) as Sigma fields.
	RdrFields bool
	// GroupBy is what a Sigma detection rule on its own groups its alerts
	// by. The zero Field is userId.
	GroupBy anomaly.Field
	// Keywords are the fields a keyword search looks in.
	Keywords []anomaly.Field
	// digest identifies the mapping's definition in rules' versions.
	digest string
}

// Logsource is one logsource of a [Mapping]: the product, category and
// service a rule must give ("" for none, "*" for any), and the event
// types such events have (none: any).
type Logsource struct {
	Product, Category, Service string
	EventTypes                 []string
}

// covers reports whether the entry covers a rule's logsource.
func (l *Logsource) covers(product, category, service string) bool {
	eq := func(want, got string) bool { return want == "*" || strings.EqualFold(want, got) }
	return eq(l.Product, product) && eq(l.Category, category) && eq(l.Service, service)
}

// DefaultMapping returns the mapping of rdr's own events (mappings/rdr.yaml,
// embedded): product rdr, with categories authentication, file_access and
// privilege.
func DefaultMapping() *Mapping {
	m, err := ParseMapping("rdr.yaml", defaultMappingYAML)
	if err != nil {
		panic("sigma: the embedded mapping is invalid: " + err.Error())
	}
	return m
}

// DefaultMappingYAML returns the text of the default mapping, to copy and
// adapt.
func DefaultMappingYAML() []byte { return slices.Clone(defaultMappingYAML) }

// LoadMapping reads a mapping file.
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMapping(path, data)
}

// ParseMapping parses a mapping file (see mappings/rdr.yaml for its
// format). file names it in errors.
func ParseMapping(file string, data []byte) (*Mapping, error) {
	docs, err := parseDocuments(data)
	if err != nil {
		err.(*Error).File = file
		return nil, err
	}
	if len(docs) != 1 || docs[0].body.kind != mapNode {
		return nil, &Error{File: file, Reason: "want one mapping document"}
	}
	body := docs[0].body
	m := &Mapping{Name: file, Fields: map[string]anomaly.Field{}, digest: anomaly.Digest(docs[0].text)}
	bad := func(n *node, feature, format string, args ...any) error {
		line := 0
		if n != nil {
			line = n.line
		}
		return &Error{File: file, Line: line, Feature: feature, Reason: fmt.Sprintf(format, args...)}
	}
	field := func(n *node, feature string) (anomaly.Field, error) {
		if n.kind != scalarNode {
			return anomaly.Field{}, bad(n, feature, "want an rdr field name, got %s", n.what())
		}
		f, err := anomaly.ParseField(n.s)
		if err != nil {
			return anomaly.Field{}, bad(n, feature, "%v", err)
		}
		return f, nil
	}
	for i, k := range body.keys {
		v := body.vals[i]
		switch k {
		case "name":
			if v.kind != scalarNode {
				return nil, bad(v, k, "want a string")
			}
			m.Name = v.s
		case "logsources":
			if v.kind != listNode {
				return nil, bad(v, k, "want a list of logsources, got %s", v.what())
			}
			for _, item := range v.items {
				if item.kind != mapNode {
					return nil, bad(item, k, "want a mapping, got %s", item.what())
				}
				var ls Logsource
				for j, lk := range item.keys {
					lv := item.vals[j]
					switch lk {
					case "product", "category", "service":
						if lv.kind != scalarNode {
							return nil, bad(lv, "logsources."+lk, "want a string, got %s", lv.what())
						}
						switch lk {
						case "product":
							ls.Product = lv.s
						case "category":
							ls.Category = lv.s
						default:
							ls.Service = lv.s
						}
					case "event-types":
						if lv.kind != listNode {
							return nil, bad(lv, "logsources.event-types", "want a list of event types, got %s", lv.what())
						}
						for _, t := range lv.items {
							if t.kind != scalarNode || t.s == "" {
								return nil, bad(t, "logsources.event-types", "want an event type, got %s", t.what())
							}
							ls.EventTypes = append(ls.EventTypes, t.s)
						}
					default:
						return nil, bad(lv, "logsources."+lk, "unknown field (want product, category, service, event-types)")
					}
				}
				m.Logsources = append(m.Logsources, ls)
			}
		case "fields":
			if v.kind != mapNode {
				return nil, bad(v, k, "want a mapping of Sigma field names to rdr fields, got %s", v.what())
			}
			for j, name := range v.keys {
				f, err := field(v.vals[j], "fields."+name)
				if err != nil {
					return nil, err
				}
				m.Fields[name] = f
			}
		case "rdr-fields":
			if v.kind != scalarNode || v.isStr || (v.s != "true" && v.s != "false") {
				return nil, bad(v, k, "want true or false")
			}
			m.RdrFields = v.s == "true"
		case "group-by":
			f, err := field(v, k)
			if err != nil {
				return nil, err
			}
			m.GroupBy = f
		case "keywords":
			if v.kind != listNode {
				return nil, bad(v, k, "want a list of rdr fields, got %s", v.what())
			}
			for _, item := range v.items {
				f, err := field(item, k)
				if err != nil {
					return nil, err
				}
				m.Keywords = append(m.Keywords, f)
			}
		default:
			return nil, bad(v, k, "unknown field (want name, logsources, fields, rdr-fields, group-by, keywords)")
		}
	}
	if len(m.Logsources) == 0 {
		return nil, &Error{File: file, Feature: "logsources", Reason: "is required: a mapping without logsources covers no rule"}
	}
	return m, nil
}

// field returns the rdr field a Sigma field name reads.
func (m *Mapping) field(name string) (anomaly.Field, bool) {
	if f, ok := m.Fields[name]; ok {
		return f, true
	}
	if m.RdrFields {
		if f, err := anomaly.ParseField(name); err == nil && !strings.Contains(name, ",") {
			return f, true
		}
	}
	return anomaly.Field{}, false
}

// logsource returns the entry that covers a rule's logsource.
func (m *Mapping) logsource(product, category, service string) (*Logsource, bool) {
	for i := range m.Logsources {
		if m.Logsources[i].covers(product, category, service) {
			return &m.Logsources[i], true
		}
	}
	return nil, false
}
