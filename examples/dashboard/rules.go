package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sigma"
)

// ruleSet is the dashboard's detection rules: the files they come from
// (rdr rule files and Sigma rule files; none: the default set), their
// tests, the set running now, and how the latest load went. Reloads — on
// SIGHUP, POST /api/rules/reload, or a watched file's change — load and
// test the files, and hand a set that passes to the processor; one that
// fails is refused whole and the running set keeps running.
type ruleSet struct {
	files   []string
	mapping string   // Sigma field mapping file; "": sigma.DefaultMapping
	tests   []string // rule test files every set must pass
	clock   rdr.Clock
	logger  *slog.Logger

	mu      sync.Mutex // guards the fields below; held through a reload
	proc    *pipeline.Processor
	running []ruleInfo
	last    reloadResult
	stamps  map[string]time.Time // the files' modification times at the latest load
}

// ruleInfo is what GET /api/rules shows of a rule.
type ruleInfo struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Type        string             `json:"type"`
	Severity    rdr.Severity       `json:"severity"`
	GroupBy     string             `json:"groupBy"`
	Tags        []string           `json:"tags"`
	RiskOnly    bool               `json:"riskOnly"`
	Source      string             `json:"source"`
	Stats       *anomaly.RuleStats `json:"stats,omitempty"`
	version     string
}

// reloadResult is how a load went.
type reloadResult struct {
	At        time.Time `json:"at"`
	OK        bool      `json:"ok"`
	Error     string    `json:"error"`
	Trigger   string    `json:"trigger"` // start, api, signal, watch
	Files     []string  `json:"files"`
	Rules     int       `json:"rules"`
	Added     []string  `json:"added"`
	Removed   []string  `json:"removed"`
	Changed   []string  `json:"changed"`
	Unchanged int       `json:"unchanged"`
}

// load reads, compiles and tests the files: the rules function a
// processor runs, and the rules' descriptions.
func (s *ruleSet) load() (func() ([]anomaly.Rule, error), []ruleInfo, error) {
	mk := func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil }
	source := map[string]string{}
	if len(s.files) > 0 {
		m := sigma.DefaultMapping()
		if s.mapping != "" {
			var err error
			if m, err = sigma.LoadMapping(s.mapping); err != nil {
				return nil, nil, err
			}
		}
		var err error
		if mk, _, err = sigma.LoadFiles(m, s.files...); err != nil {
			return nil, nil, err
		}
		for _, f := range s.files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, err
			}
			if sigma.IsSigma(data) {
				continue // named below
			}
			rs, err := anomaly.ParseRules(f, data)
			if err != nil {
				return nil, nil, err
			}
			for _, r := range rs {
				source[r.Name] = filepath.Base(f)
			}
		}
	}
	rules, err := mk()
	if err != nil {
		return nil, nil, err
	}
	for _, tf := range s.tests {
		data, err := os.ReadFile(tf)
		if err != nil {
			return nil, nil, err
		}
		tests, err := anomaly.ParseRuleTests(tf, data)
		if err != nil {
			return nil, nil, err
		}
		results, err := tests.Run(mk)
		if err != nil {
			return nil, nil, err
		}
		var failed []string
		for _, r := range results {
			if !r.Passed {
				failed = append(failed, r.Name+":\n"+r.Diff)
			}
		}
		if len(failed) > 0 {
			return nil, nil, fmt.Errorf("rule tests %s: %d of %d failed: %s", filepath.Base(tf), len(failed), len(results), strings.Join(failed, "\n"))
		}
	}
	infos := make([]ruleInfo, len(rules))
	for i, r := range rules {
		src := source[r.Name]
		switch {
		case len(s.files) == 0:
			src = "default.yaml"
		case src == "":
			src = "sigma"
		}
		infos[i] = ruleInfo{Name: r.Name, Description: r.Description, Type: detectorType(r.Detector), Severity: r.Severity,
			GroupBy: r.GroupBy.String(), Tags: r.Tags, RiskOnly: r.RiskOnly, Source: src, version: r.Version}
		if infos[i].Tags == nil {
			infos[i].Tags = []string{}
		}
	}
	return mk, infos, nil
}

// detectorType names a detector as rule files do.
func detectorType(d anomaly.Detector) string {
	switch d.(type) {
	case *anomaly.Count:
		return "count"
	case *anomaly.Distinct:
		return "distinct"
	case *anomaly.Sequence:
		return "sequence"
	case *anomaly.Absence:
		return "absence"
	case *anomaly.FirstSeen:
		return "first-seen"
	case *anomaly.Spike:
		return "spike"
	case *anomaly.SeverityFloor:
		return "severity"
	case *anomaly.Risk:
		return "risk"
	case anomaly.EveryEvent:
		return "sigma"
	case *anomaly.Temporal:
		return "temporal"
	}
	return fmt.Sprintf("%T", d)
}

// start loads the set the processor starts with.
func (s *ruleSet) start() (func() ([]anomaly.Rule, error), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mk, infos, err := s.load()
	if err != nil {
		return nil, err
	}
	s.running = infos
	s.stamps = s.fileStamps()
	s.last = reloadResult{At: s.clock.Now().UTC(), OK: true, Trigger: "start", Files: s.fileNames(), Rules: len(infos),
		Added: names(infos), Removed: []string{}, Changed: []string{}}
	return mk, nil
}

func names(infos []ruleInfo) []string {
	out := make([]string, len(infos))
	for i, r := range infos {
		out[i] = r.Name
	}
	return out
}

func (s *ruleSet) fileNames() []string {
	out := []string{}
	for _, f := range s.files {
		out = append(out, filepath.Base(f))
	}
	return out
}

// reload loads the files again and hands the set to the processor, or
// refuses it.
func (s *ruleSet) reload(trigger string) reloadResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := reloadResult{At: s.clock.Now().UTC(), Trigger: trigger, Files: s.fileNames(),
		Added: []string{}, Removed: []string{}, Changed: []string{}}
	s.stamps = s.fileStamps()
	mk, infos, err := s.load()
	if err == nil && s.proc != nil {
		err = s.proc.ReloadRules(mk)
	}
	if err != nil {
		res.Error = err.Error()
		res.Rules = len(s.running)
		s.last = res
		s.logger.Error("rules not reloaded: the running set keeps running", "trigger", trigger, "err", err)
		return res
	}
	before := map[string]string{}
	for _, r := range s.running {
		before[r.Name] = r.version
	}
	for _, r := range infos {
		v, ok := before[r.Name]
		switch {
		case !ok:
			res.Added = append(res.Added, r.Name)
		case v != r.version:
			res.Changed = append(res.Changed, r.Name)
		default:
			res.Unchanged++
		}
		delete(before, r.Name)
	}
	for _, r := range s.running {
		if _, gone := before[r.Name]; gone {
			res.Removed = append(res.Removed, r.Name)
		}
	}
	res.OK, res.Rules = true, len(infos)
	s.running, s.last = infos, res
	s.logger.Info("rules reloaded", "trigger", trigger, "rules", len(infos), "added", res.Added, "removed", res.Removed, "changed", res.Changed)
	return res
}

// fileStamps returns the files' modification times (zero for a file
// that cannot be read).
func (s *ruleSet) fileStamps() map[string]time.Time {
	m := map[string]time.Time{}
	for _, f := range append(append(append([]string{}, s.files...), s.tests...), s.mapping) {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			m[f] = fi.ModTime()
		} else {
			m[f] = time.Time{}
		}
	}
	return m
}

// watch reloads when a file's modification time changes, checking every
// interval, until ctx ends. (Polling, not inotify: it works the same on
// every file system, bind mounts and ConfigMaps included.)
func (s *ruleSet) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		now := s.fileStamps()
		changed := !mapsEqual(now, s.stamps)
		s.mu.Unlock()
		if changed {
			s.reload("watch")
		}
	}
}

func mapsEqual(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

// signals reloads on each value from hup until ctx ends.
func (s *ruleSet) signals(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload("signal")
		}
	}
}

func (s *ruleSet) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/rules", s.getRules)
	mux.HandleFunc("POST /api/rules/reload", s.postReload)
}

// view returns the running rules with their stats, and the latest load.
func (s *ruleSet) view() ([]ruleInfo, reloadResult) {
	s.mu.Lock()
	rules, last, proc := slices.Clone(s.running), s.last, s.proc
	s.mu.Unlock()
	if proc != nil {
		stats := map[string]anomaly.RuleStats{}
		for _, rs := range proc.RuleStats() {
			stats[rs.Rule] = rs
		}
		for i := range rules {
			st := stats[rules[i].Name]
			st.Rule = rules[i].Name
			rules[i].Stats = &st
		}
	}
	return rules, last
}

func (s *ruleSet) getRules(w http.ResponseWriter, _ *http.Request) {
	rules, last := s.view()
	writeJSON(w, http.StatusOK, map[string]any{"rules": rules, "reload": last})
}

func (s *ruleSet) postReload(w http.ResponseWriter, _ *http.Request) {
	res := s.reload("api")
	if !res.OK {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": res.Error, "reload": res})
		return
	}
	rules, _ := s.view()
	writeJSON(w, http.StatusOK, map[string]any{"rules": rules, "reload": res})
}
