package rdr_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/rdr-go/rdr"
)

func ExampleNewDecoder() {
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{
		// A fixed clock, so the example's timestamps are never "too old".
		Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)),
	})
	if err != nil {
		panic(err)
	}
	ev, err := dec.DecodeEvent([]byte(`{"timestamp":"2026-11-26T10:00:00.123Z","eventType":"login_failed",
		"userId":"u-1842","ipAddress":"203.0.113.7","severity":"high","metadata":{"app":"vpn","country":"DE"}}`))
	if err != nil {
		panic(err)
	}
	country, _ := ev.Metadata.Lookup("country")
	fmt.Println(ev.Time.Format(time.RFC3339Nano), ev.Type, ev.UserID, ev.IP, ev.Severity, country)
	// Output: 2026-11-26T10:00:00.123Z login_failed u-1842 203.0.113.7 high DE
}

func ExampleDecoder_Events() {
	dec, _ := rdr.NewDecoder(rdr.DecoderConfig{Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC))})
	ndjson := `{"timestamp":"2026-11-26T10:00:00Z","eventType":"login_success","userId":"alice","severity":"low"}
{"timestamp":"2026-11-26T10:00:00Z","eventType":"login_failed","userId":"bob","severity":"loud"}
{"timestamp":1795687200500,"eventType":"file_access","userId":"carol","severity":"medium"}`
	for ev, err := range dec.Events([]byte(ndjson)) {
		var invalid *rdr.InvalidEventError
		if errors.As(err, &invalid) {
			fmt.Printf("rejected: %v (field %q)\n", err, invalid.Field)
			continue
		}
		fmt.Println("accepted:", ev.UserID, ev.Type)
	}
	// Output:
	// accepted: alice login_success
	// rejected: item 1: rdr: invalid event: field severity: "loud" is not one of low, medium, high, critical (field "severity")
	// accepted: carol file_access
}

func ExampleAppendJSON() {
	ev := rdr.Event{
		Time:     time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		Type:     "privilege_change",
		UserID:   "u-7",
		Severity: rdr.SeverityCritical,
		Metadata: rdr.MakeMetadata("role", "admin"),
	}
	fmt.Println(string(rdr.AppendJSON(nil, ev)))
	// Output: {"timestamp":"2026-11-26T10:00:00Z","eventType":"privilege_change","userId":"u-7","severity":"critical","metadata":{"role":"admin"}}
}

func ExampleNewFakeClock() {
	clock := rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	clock.Advance(90 * time.Second)
	fmt.Println(clock.Now().Format(time.Kitchen))
	// Output: 10:01AM
}
