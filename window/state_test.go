package window_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rdr-go/rdr/window"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appendCounter is the state codec of the counter Windows of the tests: the
// key as a length and its bytes, then the count as a signed varint.
func appendCounter(b []byte, key string, n int) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return binary.AppendVarint(b, int64(n)), nil
}

var errBadCounter = errors.New("bad counter")

// restoreCounter reads what appendCounter writes, and nothing else.
func restoreCounter(data []byte) (string, int, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return "", 0, errBadCounter
	}
	key := string(data[k : k+int(n)])
	v, _ := binary.Varint(data[k+int(n):])
	var buf [32]byte
	if again, _ := appendCounter(buf[:0], key, int(v)); !bytes.Equal(again, data) {
		return "", 0, errBadCounter
	}
	return key, int(v), nil
}

func stateOf(t testing.TB, w *window.Windows[string, int, int]) []byte {
	t.Helper()
	data, err := w.AppendState(nil, appendCounter)
	require.NoError(t, err)
	return data
}

// TestStateResumesAgainstModel is TestAgainstModel with restarts: at
// random points the Windows is checkpointed and replaced by a fresh one
// restored from the checkpoint. Its results must still be the model's, and
// its Stats those of a Windows that never restarted.
func TestStateResumesAgainstModel(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		assigner window.Assigner
		m        model
	}{
		{"tumbling", window.Tumbling(5 * ms), model{kind: "tumbling", size: 5}},
		{"hopping", window.Hopping(6*ms, 2*ms), model{kind: "hopping", size: 6, slide: 2}},
		{"hopping uneven", window.Hopping(7*ms, 3*ms), model{kind: "hopping", size: 7, slide: 3}},
		{"session", window.Session(4 * ms), model{kind: "session", size: 4}},
	} {
		for _, lateness := range []int64{0, 3, 10} {
			t.Run(fmt.Sprintf("%s/lateness=%d", tc.name, lateness), func(t *testing.T) {
				cfg := window.Config[int, int]{Assigner: tc.assigner, AllowedLateness: time.Duration(lateness) * ms}
				restarts := 0
				for seed := range uint64(50) {
					rng := rand.New(rand.NewPCG(seed, uint64(lateness)))
					m := tc.m
					m.lateness, m.wm = lateness, -1<<62
					w, ref := newCounter(t, cfg), newCounter(t, cfg)
					var r, rr recorder
					cursor := int64(0)
					for op := range 400 {
						if rng.IntN(8) == 0 {
							data := stateOf(t, w)
							fresh := newCounter(t, cfg)
							require.NoError(t, fresh.RestoreState(data, restoreCounter), "seed %d op %d", seed, op)
							require.Equal(t, data, stateOf(t, fresh), "seed %d op %d: the restored Windows' state", seed, op)
							w = fresh
							restarts++
						}
						if rng.IntN(5) == 0 {
							wm := cursor - rng.Int64N(8)
							w.Advance(at(wm), r.emit)
							ref.Advance(at(wm), rr.emit)
							want := m.advance(wm, false)
							require.Equal(t, want, r.take(), "seed %d op %d: advance(%d)", seed, op, wm)
							require.Equal(t, want, rr.take())
						} else {
							key := string(rune('a' + rng.IntN(3)))
							ev := cursor - rng.Int64N(25) + 3
							cursor += rng.Int64N(3)
							st, err := w.Add(key, at(ev), 1)
							require.NoError(t, err)
							require.Equal(t, m.add(key, ev), st, "seed %d op %d: %s@%d", seed, op, key, ev)
							_, err = ref.Add(key, at(ev), 1)
							require.NoError(t, err)
						}
						require.Equal(t, ref.Stats(), w.Stats(), "seed %d op %d", seed, op)
					}
					w.Flush(r.emit)
					require.Equal(t, m.advance(0, true), r.take(), "seed %d: flush", seed)
					ref.Flush(rr.emit)
					require.Equal(t, ref.Stats(), w.Stats(), "seed %d: flush", seed)
				}
				t.Logf("%d restarts", restarts)
			})
		}
	}
}

// logWindows is a Windows whose states log their items in order, and
// sessions the order they merged in: a restored Windows that added or
// merged in another order would show.
func logWindows(t *testing.T, cfg window.Config[int, string]) *window.Windows[string, int, string] {
	t.Helper()
	cfg.Add = func(s *string, item int) { *s += strconv.Itoa(item) + "," }
	cfg.Merge = func(dst *string, src string) { *dst += "(" + src + ")" }
	w, err := window.New[string](cfg)
	require.NoError(t, err)
	return w
}

func appendLog(b []byte, key, s string) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(append(b, key...), s...), nil
}

func restoreLog(data []byte) (string, string, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return "", "", errBadCounter
	}
	return string(data[k : k+int(n)]), string(data[k+int(n):]), nil
}

// TestStateResumesExactly: with states that record the order of their
// items and merges, and a MaxWindows that is reached, a Windows restored
// again and again gives the results, statuses, errors and Stats of one
// that never restarted.
func TestStateResumesExactly(t *testing.T) {
	ms := time.Millisecond
	for _, a := range []window.Assigner{window.Tumbling(5 * ms), window.Hopping(6*ms, 2*ms), window.Session(4 * ms)} {
		t.Run(a.String(), func(t *testing.T) {
			cfg := window.Config[int, string]{Assigner: a, AllowedLateness: 3 * ms, MaxWindows: 7}
			for seed := range uint64(10) {
				rng := rand.New(rand.NewPCG(seed, 2))
				w, ref := logWindows(t, cfg), logWindows(t, cfg)
				var got, want []string
				record := func(to *[]string) func(window.Result[string, string]) {
					return func(r window.Result[string, string]) {
						*to = append(*to, fmt.Sprintf("%s %v %s %v", r.Key, r.Window, r.State, r.Update))
					}
				}
				cursor := int64(0)
				for op := range 1000 {
					if rng.IntN(6) == 0 {
						data, err := w.AppendState(nil, appendLog)
						require.NoError(t, err)
						w = logWindows(t, cfg)
						require.NoError(t, w.RestoreState(data, restoreLog))
					}
					if rng.IntN(5) == 0 {
						wm := cursor - rng.Int64N(8)
						w.Advance(at(wm), record(&got))
						ref.Advance(at(wm), record(&want))
						require.Equal(t, want, got, "seed %d op %d", seed, op)
					} else {
						key := string(rune('a' + rng.IntN(5)))
						ev := cursor - rng.Int64N(25) + 3
						cursor += rng.Int64N(3)
						st, err := w.Add(key, at(ev), op)
						rst, rerr := ref.Add(key, at(ev), op)
						require.Equal(t, rerr, err, "seed %d op %d", seed, op)
						require.Equal(t, rst, st, "seed %d op %d", seed, op)
					}
					require.Equal(t, ref.Stats(), w.Stats(), "seed %d op %d", seed, op)
				}
				w.Flush(record(&got))
				ref.Flush(record(&want))
				require.Equal(t, want, got, "seed %d: flush", seed)
				assert.NotZero(t, w.Stats().Full, "seed %d: the bound was reached", seed)
			}
		})
	}
}

// TestStateFormat pins the version 1 state, byte for byte: a tumbling
// window that fired and took a late item since, and one still open.
func TestStateFormat(t *testing.T) {
	w := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(10 * time.Millisecond), AllowedLateness: 20 * time.Millisecond})
	w.Add("a", at(1), 1)
	w.Add("b", at(2), 1)
	w.Advance(at(9), func(window.Result[string, int]) {})
	w.Add("b", at(3), 1) // an update, due at the next Advance
	w.Add("a", at(12), 1)

	entry := func(flags byte, key string, n int) []byte {
		blob, _ := appendCounter(nil, key, n)
		return binary.LittleEndian.AppendUint32([]byte{flags}, uint32(len(blob))) // then blob
	}
	want := slices.Concat(
		[]byte{1},             // version
		[]byte{1, 10, 20},     // tumbling, size 10 ms, lateness 20 ms
		[]byte{18},            // watermark 9, zigzag
		[]byte{4, 2, 0, 0, 0}, // added, fired, updates, late, full
		[]byte{2},             // next sequence number
		[]byte{2},             // windows
		[]byte{0, 0, 1, 2},    // sequence 0, start 0, fired, 2 keys
		entry(0b01, "a", 1), []byte{1, 'a', 2},
		entry(0b11, "b", 2), []byte{1, 'b', 4},
		[]byte{1, 20, 0, 1}, // sequence 0+1, start 10 (zigzag 20), not fired, 1 key
		entry(0b00, "a", 1), []byte{1, 'a', 2},
	)
	got := stateOf(t, w)
	assert.Equal(t, want, got)
	buf, err := w.AppendState([]byte("prefix"), appendCounter)
	require.NoError(t, err)
	assert.Equal(t, append([]byte("prefix"), want...), buf)

	restored := newCounter(t, window.Config[int, int]{Assigner: window.Tumbling(10 * time.Millisecond), AllowedLateness: 20 * time.Millisecond})
	require.NoError(t, restored.RestoreState(got, restoreCounter))
	assert.Equal(t, w.Stats(), restored.Stats())
	var r recorder
	restored.Advance(at(19), r.emit)
	assert.Equal(t, []string{"b [0,10) 2 update", "a [10,20) 1"}, r.take())
}

func TestRestoreStateErrors(t *testing.T) {
	ms := time.Millisecond
	cfg := window.Config[int, int]{Assigner: window.Tumbling(10 * ms), AllowedLateness: 20 * ms}
	written := newCounter(t, cfg)
	written.Add("a", at(1), 1)
	written.Add("b", at(2), 1)
	written.Advance(at(9), func(window.Result[string, int]) {})
	written.Add("a", at(12), 1)
	good := stateOf(t, written)
	edit := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }

	for _, tc := range []struct {
		name string
		cfg  window.Config[int, int]
		data []byte
		want string
	}{
		{"empty", cfg, nil, "empty input (at byte 0)"},
		{"unknown version", cfg, []byte{2}, "unsupported version 2 (this build reads version 1) (at byte 0)"},
		{"unknown assigner", cfg, []byte{1, 7, 10, 20}, "unknown assigner kind 7 (at byte 1)"},
		{"another size", window.Config[int, int]{Assigner: window.Tumbling(5 * ms), AllowedLateness: 20 * ms}, good,
			"a state of tumbling(10ms) windows with lateness 20ms, not of this Windows (tumbling(5ms), lateness 20ms) (at byte 1)"},
		{"another assigner", window.Config[int, int]{Assigner: window.Session(10 * ms), AllowedLateness: 20 * ms}, good,
			"a state of tumbling(10ms) windows with lateness 20ms, not of this Windows (session(10ms), lateness 20ms) (at byte 1)"},
		{"another lateness", window.Config[int, int]{Assigner: window.Tumbling(10 * ms)}, good,
			"a state of tumbling(10ms) windows with lateness 20ms, not of this Windows (tumbling(10ms), lateness 0s) (at byte 1)"},
		{"truncated", cfg, good[:len(good)-1], "entry: truncated (3 bytes needed, 2 left) (at byte 41)"},
		{"trailing bytes", cfg, append(bytes.Clone(good), 0), "1 bytes after the end (at byte 44)"},
		{"non-minimal varint", cfg, edit(func(b []byte) []byte { return slices.Concat(b[:5], []byte{0x80 | b[5], 0}, b[6:]) }),
			"Added: varint not minimally encoded (at byte 5)"},
		{"start not aligned", cfg, edit(func(b []byte) []byte { b[33] = 22; return b }), "window 1: start 11 not aligned (at byte 33)"},
		{"same start twice", cfg, edit(func(b []byte) []byte { b[33] = 0; return b }), "window 1: start 0 appears twice (at byte 33)"},
		{"fired before the watermark", cfg, edit(func(b []byte) []byte { b[34] = 1; return b }),
			"window 1 [10, 20): fired before the watermark reached it (at byte 33)"},
		{"fired not 0 or 1", cfg, edit(func(b []byte) []byte { b[14] = 2; return b }), "window 0: fired is 2, not 0 or 1 (at byte 14)"},
		{"no keys", cfg, edit(func(b []byte) []byte { b[35] = 0; return b[:36] }), "window 1: 0 keys (at byte 35)"},
		{"unknown entry flags", cfg, edit(func(b []byte) []byte { b[16] = 4; return b }), "window 0 key 0: unknown flags 0x04 (at byte 16)"},
		{"due in a window not fired", cfg, edit(func(b []byte) []byte { b[36] = 2; return b }),
			"window 1 key 0: changed since emitted, but the window has not fired (at byte 36)"},
		{"neither emitted nor due", cfg, edit(func(b []byte) []byte { b[16] = 0; return b }),
			"window 0 key 0: neither emitted nor due, in a fired window (at byte 16)"},
		{"emitted in a window not fired", cfg, edit(func(b []byte) []byte { b[36] = 1; return b }),
			"window 1 key 0: emitted, but the window has not fired (at byte 36)"},
		{"key twice", cfg, edit(func(b []byte) []byte { b[30] = 'a'; return b }), "window 0 key 1: a appears twice (at byte 24)"},
		{"sequence numbers not ascending", cfg, edit(func(b []byte) []byte { b[32] = 0; return b }),
			"window 1: sequence numbers not ascending (at byte 32)"},
		{"next sequence number too low", cfg, edit(func(b []byte) []byte { b[10] = 1; return b }),
			"next sequence number 1 is not above the last window's, 1 (at byte 44)"},
		{"a bad key state", cfg, edit(func(b []byte) []byte { b[21] = 0x80; return b }),
			"window 0 key 0 (at byte 16): bad counter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCounter(t, tc.cfg)
			w.Add("z", at(100), 1)
			before, stats := stateOf(t, w), w.Stats()
			err := w.RestoreState(tc.data, restoreCounter)
			require.ErrorIs(t, err, window.ErrInvalidState)
			assert.Equal(t, "window: invalid state: "+tc.want, err.Error())
			assert.Equal(t, before, stateOf(t, w), "left as it was")
			assert.Equal(t, stats, w.Stats())
		})
	}

	t.Run("restoreKeyState's error is wrapped", func(t *testing.T) {
		w := newCounter(t, cfg)
		errMine := errors.New("mine")
		err := w.RestoreState(good, func([]byte) (string, int, error) { return "", 0, errMine })
		require.ErrorIs(t, err, window.ErrInvalidState)
		require.ErrorIs(t, err, errMine)
	})
	t.Run("more windows than MaxWindows", func(t *testing.T) {
		small := cfg
		small.MaxWindows = 2
		w := newCounter(t, small)
		err := w.RestoreState(good, restoreCounter)
		require.ErrorIs(t, err, window.ErrFull)
		assert.Equal(t, "window: too many open windows: the state holds 3 open windows, MaxWindows is 2", err.Error())
		assert.Equal(t, window.Stats{}, w.Stats())
	})
	t.Run("sessions of one key that touch", func(t *testing.T) {
		scfg := window.Config[int, int]{Assigner: window.Session(4 * ms)}
		w := newCounter(t, scfg)
		w.Add("a", at(0), 1)
		w.Add("b", at(4), 1)
		data := stateOf(t, w)
		// Rename b's session a: [0, 4) and [4, 8) of one key.
		i := bytes.LastIndexByte(data, 'b')
		data[i] = 'a'
		err := newCounter(t, scfg).RestoreState(data, restoreCounter)
		require.ErrorIs(t, err, window.ErrInvalidState)
		assert.Equal(t, fmt.Sprintf("window: invalid state: sessions [0, 4) and [4, 8) of one key overlap or touch (at byte %d)", len(data)), err.Error())
	})
	t.Run("appendKeyState's error is returned", func(t *testing.T) {
		errMine := errors.New("mine")
		b, err := written.AppendState([]byte("x"), func(b []byte, _ string, _ int) ([]byte, error) { return append(b, 1), errMine })
		require.ErrorIs(t, err, errMine)
		assert.Equal(t, "window: appending the state of window 0 [1970-01-01T00:00:00.000Z, 1970-01-01T00:00:00.010Z): mine", err.Error())
		assert.Equal(t, []byte("x"), b, "unchanged on error")
	})
}

// counterStates returns states of random runs of each assigner, with the
// config of each.
func counterStates(t testing.TB) (states [][]byte, cfgs []window.Config[int, int]) {
	ms := time.Millisecond
	for _, a := range []window.Assigner{window.Tumbling(5 * ms), window.Hopping(6*ms, 2*ms), window.Session(4 * ms)} {
		cfg := window.Config[int, int]{
			Assigner: a, AllowedLateness: 3 * ms,
			Add: count, Merge: func(dst *int, src int) { *dst += src },
		}
		cfgs = append(cfgs, cfg)
		w, err := window.New[string](cfg)
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(3, 4))
		cursor := int64(0)
		for op := range 60 {
			if op%3 == 0 {
				w.Advance(at(cursor-rng.Int64N(8)), func(window.Result[string, int]) {})
			} else {
				_, _ = w.Add(string(rune('a'+rng.IntN(3))), at(cursor-rng.Int64N(25)+3), 1)
				cursor += rng.Int64N(3)
			}
		}
		data, err := w.AppendState(nil, appendCounter)
		require.NoError(t, err)
		states = append(states, data)
	}
	return states, cfgs
}

// TestRestoreStateTruncationsAndFlips: every prefix of a state is
// refused, and every single-byte change is either refused or yields a
// Windows whose state is the changed bytes.
func TestRestoreStateTruncationsAndFlips(t *testing.T) {
	states, cfgs := counterStates(t)
	for i, data := range states {
		t.Run(cfgs[i].Assigner.String(), func(t *testing.T) {
			w, err := window.New[string](cfgs[i])
			require.NoError(t, err)
			for n := range data {
				require.ErrorIs(t, w.RestoreState(data[:n], restoreCounter), window.ErrInvalidState, "prefix of %d bytes", n)
			}
			decoded, tried := 0, 0
			for n := range data {
				for _, delta := range []byte{1, 0x80} {
					tried++
					changed := bytes.Clone(data)
					changed[n] += delta
					if err := w.RestoreState(changed, restoreCounter); err != nil {
						require.ErrorIs(t, err, window.ErrInvalidState)
						continue
					}
					decoded++
					require.Equal(t, changed, stateOf(t, w), "byte %d + %d", n, delta)
				}
			}
			t.Logf("%d bytes; %d of %d changes decode", len(data), decoded, tried)
		})
	}
}

// FuzzRestoreState: no input panics; an input refused leaves the Windows
// as it was, with an error wrapping ErrInvalidState; an input restored is
// the Windows' state, and the Windows works on.
func FuzzRestoreState(f *testing.F) {
	states, cfgs := counterStates(f)
	for _, data := range states {
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 5, 3, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cfg := range cfgs {
			w, err := window.New[string](cfg)
			if err != nil {
				t.Fatal(err)
			}
			w.Add("z", at(100), 1)
			before := w.Stats()
			if err := w.RestoreState(data, restoreCounter); err != nil {
				if !errors.Is(err, window.ErrInvalidState) {
					t.Fatalf("error %v does not wrap ErrInvalidState", err)
				}
				if w.Stats() != before {
					t.Fatalf("a refused state changed the Windows: %+v, was %+v", w.Stats(), before)
				}
				continue
			}
			again, err := w.AppendState(nil, appendCounter)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("the restored Windows' state differs:\n in %x\nout %x", data, again)
			}
			emit := func(window.Result[string, int]) {}
			for i := range 20 {
				_, _ = w.Add(string(rune('a'+i%3)), at(int64(i)), 1)
			}
			w.Advance(at(10), emit)
			w.Flush(emit)
			if n := w.Stats().OpenWindows; n != 0 {
				t.Fatalf("%d windows open after Flush", n)
			}
		}
	})
}

// Checkpoint failed-login counts per user and minute, and resume them.
func ExampleWindows_AppendState() {
	cfg := window.Config[string, int]{
		Assigner:        window.Tumbling(time.Minute),
		AllowedLateness: 30 * time.Second,
		Add:             func(n *int, _ string) { *n++ },
	}
	appendKeyState := func(b []byte, user string, n int) ([]byte, error) {
		b = binary.AppendUvarint(b, uint64(len(user)))
		return binary.AppendUvarint(append(b, user...), uint64(n)), nil
	}
	restoreKeyState := func(data []byte) (string, int, error) {
		l, k := binary.Uvarint(data)
		if k <= 0 || l > uint64(len(data)-k) {
			return "", 0, errors.New("bad user")
		}
		n, m := binary.Uvarint(data[k+int(l):])
		if m <= 0 || k+int(l)+m != len(data) {
			return "", 0, errors.New("bad count")
		}
		return string(data[k : k+int(l)]), int(n), nil
	}
	print := func(r window.Result[string, int]) {
		fmt.Println(r.Key, r.Window, r.State, "update:", r.Update)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	w, _ := window.New[string](cfg)
	w.Add("u-1", t0.Add(5*time.Second), "login_failed")
	w.Advance(t0.Add(time.Minute), print)
	w.Add("u-1", t0.Add(50*time.Second), "login_failed") // an update, not emitted yet
	checkpoint, err := w.AppendState(nil, appendKeyState)
	if err != nil {
		panic(err)
	}

	// After a restart: a fresh Windows, the checkpoint, then the input
	// that followed it.
	w, _ = window.New[string](cfg)
	if err := w.RestoreState(checkpoint, restoreKeyState); err != nil {
		panic(err)
	}
	w.Add("u-2", t0.Add(70*time.Second), "login_failed")
	w.Flush(print)
	fmt.Printf("%+v\n", w.Stats())
	// Output:
	// u-1 [2026-11-26T10:00:00.000Z, 2026-11-26T10:01:00.000Z) 1 update: false
	// u-1 [2026-11-26T10:00:00.000Z, 2026-11-26T10:01:00.000Z) 2 update: true
	// u-2 [2026-11-26T10:01:00.000Z, 2026-11-26T10:02:00.000Z) 1 update: false
	// {Watermark:2026-11-26 10:01:00 +0000 UTC OpenWindows:0 Keys:0 Added:3 Fired:2 Updates:1 Late:0 Full:0}
}

// BenchmarkWindowsState appends and restores the state of five open
// tumbling windows of 20 keys each, with counts as states.
func BenchmarkWindowsState(b *testing.B) {
	cfg := window.Config[int, int]{
		Assigner: window.Tumbling(time.Second), AllowedLateness: 5 * time.Second,
		Add: func(n *int, v int) { *n += v },
	}
	w, err := window.New[string](cfg)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		for k := range 20 {
			if _, err := w.Add("user-"+strconv.Itoa(k), t0.Add(time.Duration(i)*time.Second), 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	w.Advance(t0.Add(3*time.Second), func(window.Result[string, int]) {})
	data := stateOf(b, w)
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, len(data))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = w.AppendState(buf[:0], appendCounter); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "state-bytes")
	})
	b.Run("restore", func(b *testing.B) {
		fresh, err := window.New[string](cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := fresh.RestoreState(data, restoreCounter); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "state-bytes")
	})
}
