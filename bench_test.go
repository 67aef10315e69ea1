package rdr_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
)

var sampleEvent = []byte(`{"timestamp":"2026-11-26T10:00:00.123Z","eventType":"login_failed","userId":"u-1842","ipAddress":"203.0.113.7","severity":"high","metadata":{"app":"vpn","country":"DE"}}`)

var sinkEvent rdr.Event

func BenchmarkDecodeEvent(b *testing.B) { benchDecode(b, sampleEvent) }

// BenchmarkDecodeEventGeneral decodes the same event written with spaces,
// which the fast path leaves to the general one.
func BenchmarkDecodeEventGeneral(b *testing.B) {
	benchDecode(b, []byte(`{ "timestamp": "2026-11-26T10:00:00.123Z", "eventType": "login_failed", "userId": "u-1842", "ipAddress": "203.0.113.7", "severity": "high", "metadata": { "app": "vpn", "country": "DE" } }`))
}

func benchDecode(b *testing.B, data []byte) {
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ev, err := dec.DecodeEvent(data)
		if err != nil {
			b.Fatal(err)
		}
		sinkEvent = ev
	}
}

// BenchmarkDecodeBatch decodes 1,000 varied events in one input, the way
// the pipeline reads a Kafka record: as NDJSON (what PartitionBatches and
// the generator write) and as a JSON array. It reports the time per event.
func BenchmarkDecodeBatch(b *testing.B) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	types := []string{"login", "login_failed", "file_access", "privilege_change", "logout"}
	var events [][]byte
	for i := range 1000 {
		events = append(events, rdr.AppendJSON(nil, rdr.Event{
			Time:     start.Add(time.Duration(i) * time.Millisecond),
			Type:     types[i%len(types)],
			UserID:   fmt.Sprintf("u-%d", i*7919%5000),
			IP:       netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}),
			Severity: rdr.Severity(i%4) + rdr.SeverityLow,
			Metadata: rdr.MakeMetadata("app", "vpn", "host", fmt.Sprintf("h%d", i%50)),
		}))
	}
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Clock: rdr.NewFakeClock(start.Add(time.Second))})
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []struct {
		name  string
		input []byte
	}{
		{"ndjson", append(bytes.Join(events, []byte("\n")), '\n')},
		{"array", append(append([]byte{'['}, bytes.Join(events, []byte(","))...), ']')},
	} {
		b.Run(form.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(form.input)))
			for b.Loop() {
				n := 0
				for ev, err := range dec.Events(form.input) {
					if err != nil {
						b.Fatal(err)
					}
					sinkEvent = ev
					n++
				}
				if n != 1000 {
					b.Fatalf("decoded %d events, want 1000", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/event")
		})
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
