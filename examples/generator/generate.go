package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/rdr-go/rdr/examples/internal/traffic"
)

// summary counts what was sent.
type summary struct {
	Records  int            `json:"records"`  // events and invalid records
	Events   int            `json:"events"`   // valid events
	Invalid  int            `json:"invalid"`  // invalid records
	Messages int            `json:"messages"` // Kafka records or HTTP requests
	ByType   map[string]int `json:"byType"`   // valid events per type
}

// output sends batches of records. Send may be called from one goroutine;
// Close waits for everything sent to be acknowledged.
type output interface {
	Send(ctx context.Context, batch []traffic.Record) (messages int, err error)
	Close() error
}

// generate pulls records from g and sends them in batches until the count
// or duration is reached or ctx ends. Unless o.fast, it paces to the wall
// clock: an event is sent once its event time has come.
func generate(ctx context.Context, g *traffic.Generator, out output, o options) (summary, error) {
	sum := summary{ByType: map[string]int{}}
	start := time.Now()
	var batch []traffic.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := out.Send(ctx, batch)
		sum.Messages += n
		batch = batch[:0]
		return err
	}
	var first time.Time
	for o.count == 0 || sum.Records < o.count {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		rec := g.NextRecord()
		if rec.Invalid == "" {
			if first.IsZero() {
				first = rec.Event.Time
			}
			if o.duration > 0 && rec.Event.Time.Sub(first) >= o.duration {
				break
			}
			if !o.fast {
				if wait := time.Until(start.Add(rec.Event.Time.Sub(first))); wait > 0 {
					if err := flush(); err != nil {
						return sum, err
					}
					select {
					case <-ctx.Done():
						return sum, ctx.Err()
					case <-time.After(wait):
					}
				}
			}
			sum.Events++
			sum.ByType[rec.Event.Type]++
		} else {
			sum.Invalid++
		}
		sum.Records++
		batch = append(batch, rec)
		if len(batch) >= o.batch {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	return sum, flush()
}

func writeTruth(path string, attacks []traffic.Attack, sum summary) error {
	b, err := json.MarshalIndent(struct {
		Attacks []traffic.Attack `json:"attacks"`
		Sent    summary          `json:"sent"`
	}{attacks, sum}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
