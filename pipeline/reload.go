package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/rdr-go/rdr/anomaly"
)

// rulesFunc is the processor's current Rules: Config.Rules until a
// ReloadRules.
type rulesFunc = func() ([]anomaly.Rule, error)

// rules makes a task's rules, from the latest set loaded.
func (p *Processor) rules() ([]anomaly.Rule, error) {
	if f := p.rulesNow.Load(); f != nil {
		return (*f)()
	}
	return p.cfg.rules()
}

// ReloadRules replaces the processor's detection rules with the ones
// rules makes, without a restart: every task's engines are rebuilt with
// the new rules between two messages, and the state of each rule whose
// definition did not change (same name, detector kind and config, and
// [anomaly.Rule.Version]) carries over, alerts and detector state alike,
// as across a checkpoint. A rule whose definition changed keeps its
// firing alerts and starts its detector afresh; a removed rule's state is
// dropped (its firing alerts stay in the stores as they were).
//
// A set that cannot be made or that an engine refuses is refused as a
// whole, with an error wrapping ErrInvalidConfig, and the running set
// keeps running. Tasks assigned later, and checkpoints restored, use the
// new set. The rules' counters ([Processor.RuleStats]) count from the
// reload. Safe to call from any goroutine; reloads run one at a time.
func (p *Processor) ReloadRules(rules func() ([]anomaly.Rule, error)) error {
	if rules == nil {
		return fmt.Errorf("%w: ReloadRules: rules is nil", ErrInvalidConfig)
	}
	rs, err := rules()
	if err != nil {
		return fmt.Errorf("%w: Rules: %w", ErrInvalidConfig, err)
	}
	if _, err := anomaly.NewEngine(rs, anomaly.Config{Clock: p.cfg.Clock}); err != nil {
		return fmt.Errorf("%w: Rules: %w", ErrInvalidConfig, err)
	}
	p.reloading.Lock()
	defer p.reloading.Unlock()
	prev := p.rulesNow.Load()
	p.rulesNow.Store(&rules)
	var errs []error
	for _, t := range p.taskList() {
		if err := t.reload(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// A task could not take the new set (its state could not be
		// saved): put the old set back everywhere.
		p.rulesNow.Store(prev)
		for _, t := range p.taskList() {
			_ = t.reload()
		}
		return fmt.Errorf("pipeline: rules not reloaded: %w", err)
	}
	p.stats.reloads.Add(1)
	return nil
}

// reload rebuilds the task's engines with the processor's current rules,
// carrying its state over.
func (t *task) reload() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	state, err := t.snapshot()
	if err != nil {
		return err
	}
	open := maps.Clone(t.open)
	if err := t.restore(state); err != nil {
		return err
	}
	t.open = open
	return nil
}

// RuleStats returns each rule's counters, summed over the tasks this
// processor holds now (every partition's engine runs its own copy of the
// rules), in the order of the rule set, counted since the task's engine was
// built (its assignment or the latest reload).
func (p *Processor) RuleStats() []anomaly.RuleStats {
	var engines []*anomaly.Engine
	for _, t := range p.taskList() {
		t.mu.Lock()
		if t.engine != nil {
			engines = append(engines, t.engine)
		}
		for _, field := range slices.Sorted(maps.Keys(t.byField)) {
			engines = append(engines, t.byField[field])
		}
		t.mu.Unlock()
	}
	var out []anomaly.RuleStats
	idx := map[string]int{}
	for _, e := range engines {
		for _, rs := range e.Stats().Rules {
			i, ok := idx[rs.Rule]
			if !ok {
				idx[rs.Rule] = len(out)
				out = append(out, rs)
				continue
			}
			out[i].Add(rs)
		}
	}
	return out
}
