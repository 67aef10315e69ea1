package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/examples/internal/traffic"
)

func TestScratchAlerts(t *testing.T) {
	start := time.Now().Add(-45 * time.Minute).Truncate(time.Second)
	g := traffic.New(traffic.Config{Seed: 42, Start: start, Rate: 20, Users: 100, AttackEvery: 6 * time.Minute, InvalidEvery: 997})
	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{Clock: rdr.NewFakeClock(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string]int{}
	var alerts []anomaly.Alert
	n := 0
	var firstFA time.Time
	for {
		r := g.NextRecord()
		if r.Invalid != "" {
			continue
		}
		if r.Event.Time.Sub(start) > 37*time.Minute {
			break
		}
		n++
		if r.Event.UserID == "u-01981" && r.Event.Type == "file_access" && firstFA.IsZero() {
			firstFA = r.Event.Time
		}
		eng.Process(r.Event, func(a anomaly.Alert) { byRule[a.Rule+"/"+a.Status.String()]++; alerts = append(alerts, a) })
	}
	fmt.Println("events", n, byRule, "firstFA", firstFA.Sub(start))
	for _, a := range g.Truth() {
		found := ""
		for _, al := range alerts {
			if al.Key == a.Key && !al.FirstSeen.Before(a.Start) && !al.FirstSeen.After(a.End) {
				found += al.Rule + " "
			}
		}
		fmt.Println(a.Kind, a.Key, a.Start.Sub(start), a.Events, "->", found)
	}
}

func TestScratchLate(t *testing.T) {
	e := newEnv(t, 6)
	cfg, span := e2eTraffic()
	s := produce(t, e, cfg, span)
	late := readTopic(t, e, e.late)
	in := startProcessor(t, e, "rdr-e2e-"+e.topic, "e2e-1", nil)
	waitApplied(t, uint64(len(s.records)), 45*time.Second, in)
	in.close(t)
	st := in.proc.Stats()
	fmt.Println("late", st.Late)
	type k struct{ off, win string }
	cnt := map[k]int{}
	for range st.Late {
		select {
		case m := <-late.msgs:
			m.Ack()
			cnt[k{m.Metadata.Get("rdr_offset"), m.Metadata.Get("rdr_window")}]++
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
	for kk, v := range cnt {
		fmt.Println(kk, v)
	}
}

func TestScratchReasons(t *testing.T) {
	dec, _ := rdr.NewDecoder(rdr.DecoderConfig{})
	g := traffic.New(traffic.Config{Seed: 1, Start: time.Now(), InvalidEvery: 2})
	for range 8 {
		r := g.NextRecord()
		if r.Invalid == "" {
			continue
		}
		for _, err := range dec.Events(r.JSON) {
			var ie *rdr.ItemError
			if errors.As(err, &ie) {
				fmt.Printf("%s: %q\n", r.Invalid, ie.Err.Error())
			} else {
				fmt.Printf("%s: plain %q\n", r.Invalid, err.Error())
			}
		}
	}
}

func TestScratchRebalance(t *testing.T) {
	e := newEnv(t, 6)
	cfg := traffic.Config{Seed: 7, Start: time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second), Rate: 500, AttackEvery: -1}
	s := produce(t, e, cfg, 8*time.Minute)
	fmt.Println("sent", len(s.records))
	group := "g-" + e.topic
	a := startProcessor(t, e, group, "a", nil)
	for a.proc.Stats().Events < uint64(len(s.records))/10 {
		time.Sleep(time.Millisecond)
	}
	b := startProcessor(t, e, group, "b", nil)
	deadline := time.Now().Add(40 * time.Second)
	total := func() uint64 {
		sa, sb := a.proc.Stats(), b.proc.Stats()
		return sa.Events + sa.Late + sb.Events + sb.Late
	}
	for total() < uint64(len(s.records)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	sa, sb := a.proc.Stats(), b.proc.Stats()
	fmt.Printf("A %+v\nB %+v\nhandled %d sent %d dup %d\n", sa, sb, total(), len(s.records), int(total())-len(s.records))
}
