package rdr_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/rdr-go/rdr"
)

// FuzzDecode feeds arbitrary bytes to the decoder. Whatever the input, it
// must not panic, every yielded item is an event or an *ItemError matching
// ErrInvalidEvent, no batch yields more items than the limit allows, and
// every event it accepts encodes and decodes back to itself.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		string(sampleEvent),
		`[` + string(sampleEvent) + `,{"timestamp":1795687200123,"eventType":"x","userId":"y","severity":"LOW"}]`,
		string(sampleEvent) + "\n" + string(sampleEvent) + "\n",
		`{"timestamp":"2026-11-26T10:00:00Z","eventType":"\ud83d\ude00","userId":"\"","ipAddress":"::1","severity":"low","metadata":{"a":[{"b":null}]}}`,
		`{"timestamp":"2026-02-30T10:00:00Z"}`,
		`[{"timestamp":`,
		`{"metadata":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{}}}}}}}}}}}`,
		"\xff\xfe",
		`[1,"a",null,[],{}]`,
		`{"userId":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{
		Limits: rdr.Limits{MaxBatchEvents: 50, MaxEventBytes: 4 << 10, MaxBatchBytes: 64 << 10},
		Clock:  rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		for ev, err := range dec.Events(data) {
			n++
			if n > 51 {
				t.Fatalf("batch yielded %d items, limit is 50 (+1 error)", n)
			}
			if err != nil {
				var item *rdr.ItemError
				if !errors.As(err, &item) || !errors.Is(err, rdr.ErrInvalidEvent) {
					t.Fatalf("error %v (%T) is not an *ItemError matching ErrInvalidEvent", err, err)
				}
				continue
			}
			out := rdr.AppendJSON(nil, ev)
			back, err := dec.DecodeEvent(out)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
			if !back.Time.Equal(ev.Time) || back.Type != ev.Type || back.UserID != ev.UserID ||
				back.IP != ev.IP || back.Severity != ev.Severity || back.Metadata != ev.Metadata {
				t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, back)
			}
		}
		if trimmed := bytes.TrimSpace(data); n == 0 && (len(trimmed) == 0 || trimmed[0] != '[') {
			t.Fatalf("non-array input yielded nothing")
		}
	})
}
