package sigma

import (
	"errors"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// This file turns go-yaml's syntax tree into a small tree of nodes that
// keeps each value's line, so every error can name it.

type nodeKind uint8

const (
	nullNode nodeKind = iota
	scalarNode
	listNode
	mapNode
)

// node is one YAML value.
type node struct {
	kind  nodeKind
	line  int
	s     string // scalar: strings unquoted; numbers and booleans as written
	isStr bool   // scalar: a string, not a number or boolean
	items []*node
	keys  []string
	vals  []*node
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != mapNode {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) what() string {
	switch {
	case n == nil || n.kind == nullNode:
		return "nothing"
	case n.kind == listNode:
		return "a list"
	case n.kind == mapNode:
		return "a mapping"
	}
	return "a scalar"
}

// document is one YAML document of a file.
type document struct {
	body *node
	text string // the document's text, for digests
	line int
}

// parseDocuments parses data into its documents.
func parseDocuments(data []byte) ([]document, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			line := 0
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
			return nil, &Error{Line: line, Reason: "YAML: " + ye.GetMessage()}
		}
		return nil, &Error{Reason: "YAML: " + err.Error()}
	}
	var docs []document
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		body := convert(d.Body)
		if body.kind == nullNode {
			continue
		}
		docs = append(docs, document{body: body, text: d.Body.String(), line: body.line})
	}
	return docs, nil
}

func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func convert(n ast.Node) *node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
			continue
		case *ast.AnchorNode:
			n = v.Value
			continue
		}
		break
	}
	out := &node{line: lineOf(n)}
	switch v := n.(type) {
	case nil, *ast.NullNode:
		out.kind = nullNode
	case *ast.StringNode:
		out.kind, out.s, out.isStr = scalarNode, v.Value, true
	case *ast.LiteralNode:
		out.kind, out.s, out.isStr = scalarNode, v.Value.Value, true
	case *ast.SequenceNode:
		out.kind = listNode
		for _, item := range v.Values {
			out.items = append(out.items, convert(item))
		}
	case *ast.MappingNode:
		out.kind = mapNode
		for _, mv := range v.Values {
			addEntry(out, mv)
		}
	case *ast.MappingValueNode:
		out.kind = mapNode
		addEntry(out, v)
	default:
		out.kind = scalarNode
		if tk := n.GetToken(); tk != nil {
			out.s = tk.Value
		}
	}
	return out
}

func addEntry(m *node, mv *ast.MappingValueNode) {
	k := ""
	switch kn := mv.Key.(type) {
	case *ast.StringNode:
		k = kn.Value
	default:
		if tk := mv.Key.GetToken(); tk != nil {
			k = tk.Value
		}
	}
	v := convert(mv.Value)
	if v.line == 0 {
		v.line = lineOf(mv.Key)
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
}
