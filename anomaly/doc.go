// Package anomaly finds attacks in a stream of security events as they
// happen — on event time, with bounded memory — and raises alerts that fire,
// update and resolve.
//
// Use an [Engine] to run a set of rules on events:
//
//	eng, err := anomaly.NewEngine(anomaly.DefaultRules(), anomaly.Config{})
//	if err != nil { … }
//	emit := func(a anomaly.Alert) { … } // send it on: a sink, a WebSocket hub
//	for ev := range events {
//		eng.Process(ev, emit)
//	}
//	eng.Advance(watermark, emit) // when event time moves on without events
//
// # Rules and detectors
//
// A [Rule] picks events with a [Filter] (event type, severity, user, IP
// prefix, metadata values), groups them by a [Field] (userId, ipAddress, or
// a metadata key), and hands them to a [Detector], which reports a
// [Detection] whenever its condition holds for a key. The built-in
// detectors:
//
//   - [Count]: at least N events per key within T — five login_failed for
//     one user in a minute.
//   - [Distinct]: at least N distinct values of a field per key within T —
//     one IP failing logins for twenty users in five minutes (password
//     spraying, credential stuffing).
//   - [Sequence]: N events of one kind, then one of another, per key within
//     T — five failures then a success: a brute force that worked.
//     [Absence]: an event not followed by another within T.
//   - [FirstSeen]: a value not seen for the key within a history — a user's
//     login from a new IP address, a user's first privilege change.
//   - [Spike]: a key's rate far above its own baseline (EWMA mean and
//     variance, with warm-up and a minimum count).
//   - [SeverityFloor]: every event at or above a severity, at once.
//   - [Risk]: each alert adds risk to its entity (user, IP), fading with a
//     half-life; enough of it is an alert of its own.
//
// [DefaultRules] is a rule set that uses them all, for the attacks security
// teams look for first.
//
// # Alerts
//
// The Engine turns detections into alerts ([Alert]): one firing alert per
// rule and key, emitted when it fires, updated by later detections (Count,
// LastSeen, Value, a few contributing events), optionally re-emitted while
// it fires, and emitted once more when it resolves — when its condition has
// been clear for the rule's resolve delay, in event time. An alert's ID is a
// hash of its rule, key and first detection, so it is the same in every run
// and for every emission of one alert. [Lifecycle] holds the knobs:
// resolve delay, cooldown, update interval, kept events.
//
// # Rule files
//
// Rules are data: [ParseRules] and [LoadRules] read YAML rule files shaped
// like Sigma correlation rules (type, filter, group-by, timespan,
// condition, severity). A file with any error is refused as a whole; each
// error ([*RuleError]) names the file, line, rule and field. The default
// set is embedded: see rules/default.yaml.
//
// # Testing rules
//
// A rule test file lists cases of timestamped events and the alerts they
// must raise ([RuleTests]). The rdr-rules command runs them with a fake
// clock, like promtool test rules, and shows a diff when they fail:
//
//	go run ./cmd/rdr-rules test anomaly/rules/default.yaml anomaly/rules/default_test.yaml
//
// From Go, [ParseRuleTests] and [RuleTests.Run] do the same.
//
// # Time, memory and concurrency
//
// Everything runs on event time: Process moves it forward with each event
// (late events are taken into account as far as the windows reach), and
// Advance moves it on when events stop — call it from a watermark or a
// timer. The wall clock ([Config.Clock]) is read only to reject events
// stamped too far in the future.
//
// Every detector's per-key state is small and bounded (from 48 bytes a key
// for Risk to 120 for a five-step Sequence, map included; 16 bytes more a
// remembered value for Distinct and FirstSeen; 238 for Absence, which keeps
// the waiting key and a copy of its First event until the deadline) and
// expires when a key goes quiet, so memory follows the number of active
// keys, not the number of events. The other detectors keep keys as 64-bit
// hashes ([Table]), never the key strings; alerts keep copies of their key
// and events. Nothing an event's strings point into is retained.
//
// An Engine has one owner goroutine: Process and Advance must not run
// concurrently; Stats may be read from anywhere. To use more cores, run one
// Engine per partition: with the user as the Kafka key, rules grouped by
// user see all of a user's events, while rules grouped by another field
// (password spraying by IP) see each partition's share.
//
// # Saving and restoring state
//
// An Engine's whole state — event time, every rule's alerts, every
// detector's per-key state — can be saved and restored, so that a pipeline
// can checkpoint it (per Kafka partition, with the offsets it has
// processed) and carry on after a crash, a restart or a rebalance:
//
//	state, err := eng.AppendState(buf[:0]) // stored with the input's offsets
//	…
//	eng, err := anomaly.NewEngine(rules, cfg) // after the restart
//	err = eng.RestoreState(state)             // then feed it the input after those offsets
//
// Given the input that followed, the restored Engine raises exactly the
// alerts the saved one would have: the same IDs, statuses, counts,
// messages and order. The format is versioned and carries a checksum;
// state that is corrupt or from another version is refused as a whole
// ([ErrInvalidState]) and the Engine is left as it was. State is matched to
// the rules by name: a rule the state does not know, or whose detector
// changed kind or config (a Count's window, say), starts empty. See
// [Engine.AppendState] and [Engine.RestoreState].
//
// Detectors take part by implementing [Snapshotter], as every built-in
// detector does. A detector that keeps its state in a [Table] saves it with
// [Table.AppendState] and restores it with [Table.RestoreState], which keep
// the table's hash seed, so that keys find their state again. The default
// rules holding state for a million users save to about 124 MB.
//
// # Writing a detector
//
// A detector is a type with three methods (see [Detector]): Observe sees
// each event that passed the rule's filter, with the group-by key; Advance
// sees event time move on; Len says how many keys it holds state for. It
// reports what it finds through the report function and leaves the alert
// lifecycle to the Engine.
//
// Say we want to alert when a user moves too many bytes within a window,
// from a "bytes" metadata field. Keep per-key state in a [Table], which
// expires quiet keys for you:
//
//	type LargeTransfer struct {
//		limit  float64
//		window time.Duration
//		keys   *anomaly.Table[transferState]
//	}
//
//	type transferState struct {
//		start time.Time // the window's start
//		total float64
//	}
//
//	var bytesField = anomaly.MetadataField("bytes")
//
//	func NewLargeTransfer(limit float64, window time.Duration) *LargeTransfer {
//		return &LargeTransfer{limit: limit, window: window,
//			keys: anomaly.NewTable[transferState](window)}
//	}
//
//	// Fields says the detector reads metadata.bytes: the Engine skips (and
//	// counts) events without it.
//	func (d *LargeTransfer) Fields() []anomaly.Field { return []anomaly.Field{bytesField} }
//
//	func (d *LargeTransfer) Observe(ev rdr.Event, key string, report func(anomaly.Detection)) {
//		d.keys.Advance(ev.Time)
//		v, _ := bytesField.Value(ev)
//		n, err := strconv.ParseFloat(v, 64)
//		if err != nil || n < 0 {
//			return
//		}
//		st := d.keys.Get(key) // key is valid only during the call: Table keeps a hash of it
//		if st == nil || ev.Time.Sub(st.start) >= d.window {
//			st = d.keys.Put(key)
//			st.start = ev.Time
//		}
//		st.total += n
//		if st.total >= d.limit {
//			report(anomaly.Detection{Key: key, Time: ev.Time, Until: st.start.Add(d.window),
//				Value: st.total, Threshold: d.limit, Event: ev})
//		}
//	}
//
//	func (d *LargeTransfer) Advance(now time.Time, _ func(anomaly.Detection)) { d.keys.Advance(now) }
//
//	func (d *LargeTransfer) Len() int { return d.keys.Len() }
//
// Optionally, say what a detection means ([Describer]):
//
//	func (d *LargeTransfer) Describe(det anomaly.Detection) string {
//		return fmt.Sprintf("%.0f bytes in %v", det.Value, d.window)
//	}
//
// To be checkpointed with the Engine, implement [Snapshotter] too: the full
// example does, with [Table.AppendState] and [Table.RestoreState].
//
// Then run the conformance suite, [github.com/rdr-go/rdr/anomaly/anomalytest],
// under -race. It checks what every detector must do: the same input gives
// the same alerts, a benign baseline gives none, every alert field is
// filled, state expires, keys are not kept without being copied, odd and late
// events are handled, and instances can run in parallel; for a Snapshotter,
// that a restore mid-stream changes no alert and that corrupt state is
// refused. Tell it what an attack and a benign baseline look like:
//
//	func TestLargeTransferConformance(t *testing.T) {
//		anomalytest.Run(t, anomalytest.Features{
//			Attack: func(start time.Time) []rdr.Event { … 3 GB in a minute … },
//			Benign: func(start time.Time) []rdr.Event { … a few KB now and then … },
//			StateTTL: 2 * time.Minute, // state gone within 2×window
//		}, func() anomaly.Detector { return NewLargeTransfer(1e9, time.Minute) })
//	}
//
// A detector is done when it passes the suite, has tests with exact expected
// alerts at its boundaries (N−1 events, N, N+10, quiet), an Example, and a
// benchmark. The full example is in example_detector_test.go. To make it
// available in rule files, add a type to rules.go.
package anomaly
