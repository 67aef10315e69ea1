package pipeline

import "time"

// Event time: idle partitions and the processor's watermark.

// tick moves idle tasks' event time on by the wall clock, so that their
// last windows fire and alerts resolve when traffic stops: a task whose
// partition has delivered nothing for IdleTimeout, whose last message
// reached the partition's end, and — with a subscriber that can tell
// ([EndReporter]) — whose source has said since the last message that it
// has nothing more, takes the wall clock (minus OutOfOrderness) as its
// watermark. A task that is merely not receiving holds its watermark.
func (p *Processor) tick() {
	now := p.cfg.Clock.Now()
	for _, t := range p.taskList() {
		var out outputs
		t.mu.Lock()
		quiet := now.Sub(time.Unix(0, t.lastInput.Load()))
		idle := quiet >= p.cfg.IdleTimeout
		if er := p.ends[t.topic]; idle && er != nil {
			idle = er.AtEnd(t.topic, t.partition, t.next, quiet)
		}
		t.idle.Store(idle && t.caughtUp)
		if !p.cfg.DisableIdleAdvance && idle && t.caughtUp {
			t.advanceTo(&out, now.Add(-p.cfg.OutOfOrderness-time.Millisecond))
		} else {
			t.advance(&out)
		}
		if out.empty() {
			t.mu.Unlock()
			continue
		}
		turn := t.takeTurn()
		t.mu.Unlock()
		p.emitInTurn(p.emitCtx, t, out, turn)
	}
	p.live.publishDue()
}

// watermark is the least watermark of the input tasks that are not idle
// (as the latest tick judged: see tick), or the greatest of all when every
// task is idle; zero before any.
func (p *Processor) watermark() time.Time {
	var active, all int64
	haveActive := false
	for _, t := range p.taskList() {
		wm := t.wm.Load()
		if wm == 0 || t.windows == nil { // repartition tasks fire no windows
			continue
		}
		all = max(all, wm)
		if !t.idle.Load() {
			if !haveActive || wm < active {
				active = wm
			}
			haveActive = true
		}
	}
	switch {
	case haveActive:
		return time.Unix(0, active).UTC()
	case all != 0:
		return time.Unix(0, all).UTC()
	}
	return time.Time{}
}
