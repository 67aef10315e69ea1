package rdr_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
)

var sampleEvent = []byte(`{"timestamp":"2026-11-26T10:00:00.123Z","eventType":"login_failed","userId":"u-1842","ipAddress":"203.0.113.7","severity":"high","metadata":{"app":"vpn","country":"DE"}}`)

var sinkEvent rdr.Event

func BenchmarkDecodeEvent(b *testing.B) {
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(sampleEvent)))
	for b.Loop() {
		ev, err := dec.DecodeEvent(sampleEvent)
		if err != nil {
			b.Fatal(err)
		}
		sinkEvent = ev
	}
}

// stdlibEvent is the plain encoding/json equivalent of rdr.Event.
type stdlibEvent struct {
	Timestamp time.Time         `json:"timestamp"`
	EventType string            `json:"eventType"`
	UserID    string            `json:"userId"`
	IPAddress string            `json:"ipAddress"`
	Severity  string            `json:"severity"`
	Metadata  map[string]string `json:"metadata"`
}

var sinkStd stdlibEvent

func BenchmarkDecodeEventStdlib(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(sampleEvent)))
	for b.Loop() {
		var ev stdlibEvent
		if err := json.Unmarshal(sampleEvent, &ev); err != nil {
			b.Fatal(err)
		}
		sinkStd = ev
	}
}

var sinkBytes []byte

func BenchmarkEncodeEvent(b *testing.B) {
	dec, _ := rdr.NewDecoder(rdr.DecoderConfig{Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC))})
	ev, err := dec.DecodeEvent(sampleEvent)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = rdr.AppendJSON(buf[:0], ev)
	}
	sinkBytes = buf
}
