package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rdr-go/rdr/pipeline"
)

// replayChunk is how many bytes of NDJSON a replay hands on at a time.
const replayChunk = 512 << 10

// runReplay backfills: it reads NDJSON events from path ("-": stdin) and
// hands them to the input in order, waiting for room (never refusing),
// as POST /api/events would. The processor runs with idle advance off, so
// windows fire by event time alone and the result is the one the same
// events would have given streamed live. Every 2 s it writes progress to
// out: bytes read, events applied and their rate, the watermark and an
// estimated time left. It returns once everything read was applied (in
// embedded mode) or handed to Kafka, or ctx ends.
func runReplay(ctx context.Context, path string, a *api, queue *pipeline.Queue, out io.Writer) error {
	var r io.Reader = os.Stdin
	size := int64(-1)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("-replay: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	start := time.Now()
	applied0 := appliedCount(a.proc.Stats())
	var read, accepted, refused int64
	report := func(final bool) {
		st := a.proc.Stats()
		applied := appliedCount(st) - applied0
		elapsed := time.Since(start)
		rate := float64(applied) / max(elapsed.Seconds(), 1e-9)
		line := fmt.Sprintf("replay: %s read", formatBytes(read))
		if size > 0 {
			line += fmt.Sprintf(" of %s (%.0f%%)", formatBytes(size), 100*float64(read)/float64(size))
		}
		line += fmt.Sprintf(", %d events accepted, %d refused, %d applied (%.0f/s), watermark %s", accepted, refused, applied, rate, formatTime(st.Watermark))
		if !final && size > 0 && read > 0 {
			eta := time.Duration(float64(elapsed) * float64(size-read) / float64(read))
			line += ", about " + eta.Round(time.Second).String() + " left"
		}
		if final {
			line += fmt.Sprintf(", done in %s", elapsed.Round(time.Millisecond))
		}
		fmt.Fprintln(out, line)
	}
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	var chunk []byte
	flush := func() error {
		if len(bytes.TrimSpace(chunk)) == 0 {
			chunk = chunk[:0]
			return nil
		}
		reply, err := a.ingest(ctx, chunk, true)
		if err != nil {
			return fmt.Errorf("-replay: %w", err)
		}
		accepted += int64(reply.Accepted)
		refused += int64(reply.Rejected)
		chunk = chunk[:0]
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a line longer than the buffer: read the rest of it
			var rest []byte
			rest, err = br.ReadBytes('\n')
			line = append(append([]byte(nil), line...), rest...)
		}
		read += int64(len(line))
		chunk = append(chunk, line...)
		if len(chunk) >= replayChunk || err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("-replay: reading %s: %w", path, err)
		}
		select {
		case <-ticker.C:
			report(false)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
	if queue != nil {
		if err := queue.Drain(ctx); err != nil {
			return fmt.Errorf("-replay: %w", err)
		}
	}
	report(true)
	return nil
}

// appliedCount is how many input items the processor has counted.
func appliedCount(st pipeline.Stats) uint64 { return st.Events + st.Late + st.Invalid }

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "none yet"
	}
	return t.UTC().Format(time.RFC3339)
}
