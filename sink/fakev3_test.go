package sink_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/influxql"
	protocol "github.com/influxdata/line-protocol"
)

// fakeV3 is a fake of InfluxDB 3.x (Core/Enterprise) as far as rdr uses it,
// made from its documentation and its server's source, because no 3.x
// server can be built or run here: /api/v2/write, /ping and the v1
// compatibility /query. It parses with InfluxData's own parsers (line
// protocol, InfluxQL) and answers as 3.x does:
//   - writes follow 3.x's schema rules: a table's tag set is fixed by its
//     first write (a line with another tag is refused), a tag and a field
//     may not share a name, a field keeps its type; a refused batch is a
//     400 naming the line and the rule, and nothing of it is stored;
//     databases are made by their first write;
//   - /query reads its parameters from the URL only and does not bind
//     "params" (influxdb3_server/src/http/v1.rs: "Currently not supporting
//     parameterized queries"); a GROUP BY tag comes back as a column of
//     each row, not as a series' tags (same file);
//   - /ping answers with the header X-Influxdb-Version: 3.x.
//
// It evaluates the InfluxQL rdr sends — sum, max and count of fields;
// SELECT *; WHERE time bounds and tag equality joined by AND; GROUP BY
// time(interval, offset) and tags; fill(none); one subquery — and refuses
// anything else with a 400, so a change to the queries shows here.
type fakeV3 struct {
	srv *httptest.Server
	mu  sync.Mutex
	dbs map[string]map[string]*fakeTable // database → table
}

const fakeV3Token = "apiv3_fake-token"

type fakeTable struct {
	tags   []string          // fixed by the first write, sorted
	fields map[string]string // field → type
	rows   map[string]*fakeRow
}

type fakeRow struct {
	t      int64
	tags   map[string]string
	fields map[string]any
}

func newFakeV3(t testing.TB) *fakeV3 {
	f := &fakeV3{dbs: map[string]map[string]*fakeTable{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Influxdb-Version", "3.8.0")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"version":"3.8.0","revision":"fake"}`)
	})
	mux.HandleFunc("/api/v2/write", f.authorized(f.write))
	mux.HandleFunc("/query", f.authorized(f.query))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeV3) URL() string { return f.srv.URL }

func fakeError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (f *fakeV3) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		if a != "Token "+fakeV3Token && a != "Bearer "+fakeV3Token {
			fakeError(w, http.StatusUnauthorized, "unauthorized access")
			return
		}
		h(w, r)
	}
}

func (f *fakeV3) write(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fakeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	db := r.URL.Query().Get("bucket")
	if db == "" {
		db = r.URL.Query().Get("db")
	}
	if db == "" || strings.Contains(db, "/") {
		fakeError(w, http.StatusBadRequest, "invalid database name %q", db)
		return
	}
	if p := r.URL.Query().Get("precision"); p != "" && p != "ns" {
		fakeError(w, http.StatusBadRequest, "the fake takes precision=ns only, got %q", p)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fakeError(w, http.StatusBadRequest, "gzip: %v", err)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		fakeError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	metrics, err := protocol.NewParser(protocol.NewMetricHandler()).Parse(data)
	if err != nil {
		fakeError(w, http.StatusBadRequest, "parsing failed for write_lp endpoint: %v", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tables := f.dbs[db]
	if tables == nil {
		tables = map[string]*fakeTable{}
	}
	// Check the whole batch first (against the tables as the batch makes
	// them), then store it.
	staged := map[string]*fakeTable{}
	table := func(name string) *fakeTable {
		if t, ok := staged[name]; ok {
			return t
		}
		return tables[name]
	}
	for i, m := range metrics {
		tbl := table(m.Name())
		var tagKeys []string
		for _, tag := range m.TagList() {
			tagKeys = append(tagKeys, tag.Key)
		}
		for _, fl := range m.FieldList() {
			if slices.Contains(tagKeys, fl.Key) {
				fakeError(w, http.StatusBadRequest, "line %d: table %s: %q is both a tag and a field", i+1, m.Name(), fl.Key)
				return
			}
		}
		if tbl == nil {
			tbl = &fakeTable{tags: slices.Sorted(slices.Values(tagKeys)), fields: map[string]string{}, rows: map[string]*fakeRow{}}
			staged[m.Name()] = tbl
		}
		for _, k := range tagKeys {
			if !slices.Contains(tbl.tags, k) {
				fakeError(w, http.StatusBadRequest, "line %d: table %s: tag %q is not in the table's tag set %v (fixed by its first write)",
					i+1, m.Name(), k, tbl.tags)
				return
			}
		}
		for _, fl := range m.FieldList() {
			if slices.Contains(tbl.tags, fl.Key) {
				fakeError(w, http.StatusBadRequest, "line %d: table %s: field %q is a tag of the table", i+1, m.Name(), fl.Key)
				return
			}
			typ := fmt.Sprintf("%T", fl.Value)
			if old, ok := tbl.fields[fl.Key]; ok && old != typ {
				fakeError(w, http.StatusBadRequest, "line %d: table %s: field %q is %s, got %s", i+1, m.Name(), fl.Key, old, typ)
				return
			}
			tbl.fields[fl.Key] = typ
		}
	}
	for name, tbl := range staged {
		tables[name] = tbl
	}
	f.dbs[db] = tables
	for _, m := range metrics {
		tbl := tables[m.Name()]
		tags := map[string]string{}
		var key strings.Builder
		for _, tag := range m.TagList() {
			tags[tag.Key] = tag.Value
			fmt.Fprintf(&key, "%q=%q,", tag.Key, tag.Value)
		}
		fmt.Fprintf(&key, "@%d", m.Time().UnixNano())
		row := tbl.rows[key.String()]
		if row == nil {
			row = &fakeRow{t: m.Time().UnixNano(), tags: tags, fields: map[string]any{}}
			tbl.rows[key.String()] = row
		}
		for _, fl := range m.FieldList() {
			row.fields[fl.Key] = fl.Value // a later write of the same point wins, field by field
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// fakeResult is one table's rows of a query's answer.
type fakeResult struct {
	name    string
	columns []string
	rows    [][]any
}

func (f *fakeV3) query(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query() // 3.x reads the URL only, whatever the method
	q := params.Get("q")
	if q == "" {
		fakeError(w, http.StatusBadRequest, "missing query parameters")
		return
	}
	if params.Get("epoch") != "ns" {
		fakeError(w, http.StatusBadRequest, "the fake answers epoch=ns only")
		return
	}
	query, err := influxql.ParseQuery(q)
	if err != nil {
		fakeError(w, http.StatusBadRequest, "error parsing query: %v", err)
		return
	}
	if len(query.Statements) != 1 {
		fakeError(w, http.StatusBadRequest, "the fake runs one statement")
		return
	}
	stmt, ok := query.Statements[0].(*influxql.SelectStatement)
	if !ok {
		fakeError(w, http.StatusBadRequest, "the fake runs SELECT only")
		return
	}
	f.mu.Lock()
	res, err := f.selectRows(f.dbs[params.Get("db")], stmt)
	f.mu.Unlock()
	if err != nil {
		fakeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	type series struct {
		Name    string   `json:"name"`
		Columns []string `json:"columns"`
		Values  [][]any  `json:"values"`
	}
	out := struct {
		Results []struct {
			StatementID int      `json:"statement_id"`
			Series      []series `json:"series"`
		} `json:"results"`
	}{}
	out.Results = make([]struct {
		StatementID int      `json:"statement_id"`
		Series      []series `json:"series"`
	}, 1)
	out.Results[0].Series = []series{}
	if res != nil && len(res.rows) > 0 {
		out.Results[0].Series = append(out.Results[0].Series, series{Name: res.name, Columns: res.columns, Values: res.rows})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// selectRows evaluates stmt over the tables of one database.
func (f *fakeV3) selectRows(tables map[string]*fakeTable, stmt *influxql.SelectStatement) (*fakeResult, error) {
	if len(stmt.Sources) != 1 {
		return nil, fmt.Errorf("the fake takes one source, got %d", len(stmt.Sources))
	}
	cond, tr, err := influxql.ConditionExpr(stmt.Condition, &influxql.NowValuer{Now: time.Now()})
	if err != nil {
		return nil, err
	}
	match, err := fakeTagMatcher(cond)
	if err != nil {
		return nil, err
	}
	lo, hi := tr.MinTime().UnixNano(), tr.MaxTime().UnixNano()

	var name string
	var rows []*fakeRow
	var allCols []string
	switch src := stmt.Sources[0].(type) {
	case *influxql.Measurement:
		name = src.Name
		tbl := tables[name]
		if tbl == nil {
			return nil, nil // no such table: no series
		}
		for _, row := range tbl.rows {
			rows = append(rows, row)
		}
		allCols = append(allCols, tbl.tags...)
		for k := range tbl.fields {
			allCols = append(allCols, k)
		}
		sort.Strings(allCols)
	case *influxql.SubQuery:
		inner, err := f.selectRows(tables, src.Statement)
		if err != nil || inner == nil {
			return nil, err
		}
		name = inner.name
		for _, r := range inner.rows {
			row := &fakeRow{t: r[0].(int64), tags: map[string]string{}, fields: map[string]any{}}
			for i, c := range inner.columns[1:] {
				if r[i+1] != nil {
					row.fields[c] = r[i+1]
				}
			}
			rows = append(rows, row)
		}
	default:
		return nil, fmt.Errorf("the fake cannot read from %T", src)
	}
	var kept []*fakeRow
	for _, row := range rows {
		if row.t >= lo && row.t <= hi && match(row.tags) {
			kept = append(kept, row)
		}
	}
	slices.SortFunc(kept, func(a, b *fakeRow) int { return int(a.t - b.t) })

	if _, ok := stmt.Fields[0].Expr.(*influxql.Wildcard); ok && len(stmt.Fields) == 1 {
		res := &fakeResult{name: name, columns: append([]string{"time"}, allCols...)}
		for _, row := range kept {
			vals := []any{row.t}
			for _, c := range allCols {
				if v, ok := row.tags[c]; ok {
					vals = append(vals, v)
				} else {
					vals = append(vals, row.fields[c]) // nil when absent
				}
			}
			res.rows = append(res.rows, vals)
		}
		return res, nil
	}
	return fakeAggregate(name, stmt, kept)
}

// fakeAggregate groups rows by time bucket and tags and computes each field.
func fakeAggregate(name string, stmt *influxql.SelectStatement, rows []*fakeRow) (*fakeResult, error) {
	var every, offset int64
	var groupTags []string
	for _, d := range stmt.Dimensions {
		switch e := d.Expr.(type) {
		case *influxql.Call:
			if e.Name != "time" || len(e.Args) == 0 {
				return nil, fmt.Errorf("the fake cannot group by %s", e)
			}
			iv, ok := e.Args[0].(*influxql.DurationLiteral)
			if !ok {
				return nil, fmt.Errorf("time() interval %s", e.Args[0])
			}
			every = int64(iv.Val)
			if len(e.Args) > 1 {
				ov, ok := e.Args[1].(*influxql.DurationLiteral)
				if !ok {
					return nil, fmt.Errorf("time() offset %s", e.Args[1])
				}
				offset = int64(ov.Val)
			}
		case *influxql.VarRef:
			groupTags = append(groupTags, e.Val)
		default:
			return nil, fmt.Errorf("the fake cannot group by %s", d)
		}
	}
	if every > 0 && stmt.Fill != influxql.NoFill {
		return nil, fmt.Errorf("the fake runs GROUP BY time() with fill(none) only")
	}
	type agg struct{ fn, field, alias string }
	var aggs []agg
	for _, fl := range stmt.Fields {
		c, ok := fl.Expr.(*influxql.Call)
		if !ok || len(c.Args) != 1 {
			return nil, fmt.Errorf("the fake computes sum, max or count of a field, got %s", fl.Expr)
		}
		ref, ok := c.Args[0].(*influxql.VarRef)
		if !ok || (c.Name != "sum" && c.Name != "max" && c.Name != "count" && c.Name != "last" && c.Name != "first") {
			return nil, fmt.Errorf("the fake computes sum, max, count, first or last of a field, got %s", fl.Expr)
		}
		aggs = append(aggs, agg{c.Name, ref.Val, fl.Name()})
	}
	type group struct {
		t     int64
		tags  []string
		vals  []any
		lastT []int64
	}
	groups := map[string]*group{}
	var order []string
	for _, row := range rows {
		var b int64 // without GROUP BY time(), one bucket at 0
		if every > 0 {
			b = row.t - ((row.t-offset)%every+every)%every
		}
		tags := make([]string, len(groupTags))
		for i, k := range groupTags {
			tags[i] = row.tags[k]
		}
		key := fmt.Sprintf("%q@%d", tags, b)
		g := groups[key]
		if g == nil {
			g = &group{t: b, tags: tags, vals: make([]any, len(aggs)), lastT: make([]int64, len(aggs))}
			groups[key] = g
			order = append(order, key)
		}
		for i, a := range aggs {
			v, ok := row.fields[a.field]
			if !ok {
				continue
			}
			x, isNum := fakeNumber(v)
			switch a.fn {
			case "count":
				n, _ := g.vals[i].(int64)
				g.vals[i] = n + 1
			case "sum":
				if !isNum {
					return nil, fmt.Errorf("sum of non-numeric field %s", a.field)
				}
				s, _ := g.vals[i].(float64)
				g.vals[i] = s + x
			case "first", "last": // selectors: without GROUP BY time(), the row has the point's time
				if g.vals[i] == nil || (a.fn == "last" && row.t >= g.lastT[i]) || (a.fn == "first" && row.t < g.lastT[i]) {
					g.vals[i], g.lastT[i] = v, row.t
					if every == 0 {
						g.t = row.t
					}
				}
			case "max":
				if !isNum {
					return nil, fmt.Errorf("max of non-numeric field %s", a.field)
				}
				if m, ok := g.vals[i].(float64); !ok || x > m {
					g.vals[i] = x
				}
			}
		}
	}
	slices.SortFunc(order, func(a, b string) int {
		ga, gb := groups[a], groups[b]
		if c := slices.Compare(ga.tags, gb.tags); c != 0 {
			return c
		}
		return int(ga.t - gb.t)
	})
	res := &fakeResult{name: name, columns: append(append([]string{"time"}, groupTags...), func() []string {
		names := make([]string, len(aggs))
		for i, a := range aggs {
			names[i] = a.alias
		}
		return names
	}()...)}
	for _, key := range order {
		g := groups[key]
		row := []any{g.t}
		for _, tg := range g.tags {
			row = append(row, tg)
		}
		empty := true
		for _, v := range g.vals {
			if v != nil {
				empty = false
			}
			row = append(row, v)
		}
		if !empty {
			res.rows = append(res.rows, row)
		}
	}
	return res, nil
}

func fakeNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x)
	}
	return 0, false
}

// fakeTagMatcher turns what is left of a WHERE clause once its time bounds
// are taken out into a matcher: tag = 'literal' joined by AND.
func fakeTagMatcher(e influxql.Expr) (func(map[string]string) bool, error) {
	switch x := e.(type) {
	case nil:
		return func(map[string]string) bool { return true }, nil
	case *influxql.ParenExpr:
		return fakeTagMatcher(x.Expr)
	case *influxql.BooleanLiteral:
		return func(map[string]string) bool { return x.Val }, nil
	case *influxql.BinaryExpr:
		switch x.Op {
		case influxql.AND:
			l, err := fakeTagMatcher(x.LHS)
			if err != nil {
				return nil, err
			}
			r, err := fakeTagMatcher(x.RHS)
			if err != nil {
				return nil, err
			}
			return func(t map[string]string) bool { return l(t) && r(t) }, nil
		case influxql.EQ:
			ref, ok1 := x.LHS.(*influxql.VarRef)
			lit, ok2 := x.RHS.(*influxql.StringLiteral)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("the fake matches tag = 'string' only, got %s", x)
			}
			return func(t map[string]string) bool { return t[ref.Val] == lit.Val }, nil
		}
	}
	return nil, fmt.Errorf("the fake cannot evaluate %s", e)
}
