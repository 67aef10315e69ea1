package window

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/rdr-go/rdr/internal/wire"
)

// stateVersion is the first byte of a Windows' state.
const stateVersion = 1

// Flags of a window's entry in the state.
const (
	entryEmitted = 1 << 0 // emitted at least once: later results are updates
	entryDirty   = 1 << 1 // changed since emitted: emitted again at the next Advance
)

// AppendState appends the state of w to b and returns the extended
// buffer, for a checkpoint that [Windows.RestoreState] resumes from: every
// open window — its key, its bounds, its state (appended by
// appendKeyState), whether it has fired, and for each key whether its
// result was emitted and whether it changed since — the watermark, and the
// counters of [Stats]. It does not change w. On error it returns b
// unchanged and the error, which wraps appendKeyState's.
//
// appendKeyState appends one window's key and state to b and returns the
// extended buffer, as an encoding.BinaryAppender does; RestoreState hands
// those bytes, and only those, to its restoreKeyState. It is called once
// per (key, window), in emission order within each window, and must not
// call w. The key is written with every window it has, so a key type that
// carries nothing (struct{}) costs nothing.
//
// # Format
//
// Version 1. Integers are varints (encoding/binary's Uvarint, or Varint
// where signed), minimally encoded; times are Unix milliseconds.
//
//	version      1 byte: 1
//	assigner     1 byte kind (1 tumbling, 2 hopping, 3 session), size (or
//	             gap), slide (hopping only), AllowedLateness
//	watermark    signed; math.MinInt64 for none
//	counters     Added, Fired, Updates, Late, Full
//	sequence     the next window's sequence number
//	windows      a count n, then n windows in the order they were opened:
//	             sequence number (the first's as it is, then the
//	             difference from the previous one, >= 1), start (signed),
//	             for sessions the length (>= gap), 1 byte fired (0 or 1),
//	             a count m of keys (>= 1; 1 for sessions), then m times in
//	             the order they were opened: 1 byte flags (bit 0 emitted,
//	             bit 1 changed since), a 4-byte little-endian length and
//	             that many bytes from appendKeyState
//
// The state holds what decides later results and nothing else: the heaps
// and free lists that order and recycle windows in memory are rebuilt.
func (w *Windows[K, T, S]) AppendState(b []byte, appendKeyState func(b []byte, key K, state S) ([]byte, error)) ([]byte, error) {
	b0 := b
	b = append(b, stateVersion, byte(w.kind))
	b = binary.AppendUvarint(b, uint64(w.size))
	if w.kind == kindHopping {
		b = binary.AppendUvarint(b, uint64(w.slide))
	}
	b = binary.AppendUvarint(b, uint64(w.lateness))
	b = binary.AppendVarint(b, w.wm)
	for _, n := range [...]uint64{w.added, w.firedN, w.updates, w.late, w.full} {
		b = binary.AppendUvarint(b, n)
	}
	b = binary.AppendUvarint(b, w.seq)

	ids := slices.Concat(w.pending, w.fired) // not w.batch: AppendState only reads w
	slices.SortFunc(ids, func(x, y int32) int { return cmp.Compare(w.buckets[x].seq, w.buckets[y].seq) })
	b = binary.AppendUvarint(b, uint64(len(ids)))
	var prev uint64
	for i, id := range ids {
		bk := &w.buckets[id]
		b = binary.AppendUvarint(b, bk.seq-prev)
		prev = bk.seq
		b = binary.AppendVarint(b, bk.start)
		if w.kind == kindSession {
			b = binary.AppendUvarint(b, uint64(bk.end-bk.start))
		}
		b = append(b, boolByte(bk.fired))
		b = binary.AppendUvarint(b, uint64(len(bk.entries)))
		for _, idx := range bk.entries {
			e := &w.entries[idx]
			at := len(b)
			b = append(b, boolByte(e.emitted)|boolByte(e.dirty)<<1, 0, 0, 0, 0)
			var err error
			b, err = appendKeyState(b, e.key, e.state)
			n := len(b) - at - 5
			switch {
			case err != nil:
			case n < 0:
				err = errors.New("appendKeyState shortened the buffer")
			case uint64(n) > math.MaxUint32:
				err = fmt.Errorf("%d bytes, more than 4 GiB", n)
			}
			if err != nil {
				win := Window{Start: toTime(bk.start), End: toTime(bk.end)}
				return b0, fmt.Errorf("window: appending the state of window %d %v: %w", i, win, err)
			}
			binary.LittleEndian.PutUint32(b[at+1:], uint32(n))
		}
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// RestoreState replaces the contents of w with the state in data, written
// by [Windows.AppendState]: the same open windows, watermark and counters,
// so that the items and watermarks that follow give the results, in the
// same order and with the same Update flags, that the Windows that wrote
// it would have given. w must have the Assigner and AllowedLateness of
// that Windows; MaxWindows may differ. Config.Init is not called for the
// restored windows.
//
// restoreKeyState rebuilds one window's key and state from the bytes
// appendKeyState appended for it. It must not call w, and must copy what it
// keeps of data: RestoreState does not retain data.
//
// RestoreState is all or nothing: on error w is left as it was (the states
// restored so far are dropped). It returns an error wrapping
// ErrInvalidState, saying what is wrong and at which byte, for data that
// is not such a state (truncated, altered, of an unknown version), for a
// state of a Windows with another Assigner or AllowedLateness, and — also
// wrapping its error — when restoreKeyState fails; and one wrapping ErrFull
// when the state holds more open windows than MaxWindows. It never
// panics on bad input, and checks every count against the bytes left
// before allocating for it.
func (w *Windows[K, T, S]) RestoreState(data []byte, restoreKeyState func(data []byte) (K, S, error)) error {
	d := stateDecoder{wire.Reader{Data: data, Invalid: invalidState}}
	nw := w.restore(&d, restoreKeyState)
	if d.Err != nil {
		return d.Err
	}
	if nw.live > w.max {
		return fmt.Errorf("%w: the state holds %d open windows, MaxWindows is %d", ErrFull, nw.live, w.max)
	}
	*w = *nw
	return nil
}

// restore decodes a state into a new Windows configured like w.
func (w *Windows[K, T, S]) restore(d *stateDecoder, restoreKeyState func([]byte) (K, S, error)) *Windows[K, T, S] {
	if len(d.Data) == 0 {
		d.Fail(0, "empty input")
		return nil
	}
	if v := d.Byte("version"); v != stateVersion {
		d.Fail(0, "unsupported version %d (this build reads version %d)", v, stateVersion)
		return nil
	}
	k := kind(d.Byte("assigner"))
	if d.Err == nil && k != kindTumbling && k != kindHopping && k != kindSession {
		d.Fail(1, "unknown assigner kind %d", k)
	}
	size := d.Uvarint("size")
	var slide uint64
	if k == kindHopping {
		slide = d.Uvarint("slide")
	}
	lateness := d.Uvarint("lateness")
	if d.Err != nil {
		return nil
	}
	if k != w.kind || size != uint64(w.size) || k == kindHopping && slide != uint64(w.slide) || lateness != uint64(w.lateness) {
		d.Fail(1, "a state of %s windows with lateness %v, not of this Windows (%s, lateness %v)",
			describe(k, size, slide), durationOf(lateness), describe(w.kind, uint64(w.size), uint64(w.slide)), durationOf(uint64(w.lateness)))
		return nil
	}

	at := d.Off
	wm := d.Varint("watermark")
	if d.Err == nil && wm != noWatermark && (wm < -maxMillis || wm > maxMillis) {
		d.Fail(at, "watermark %d outside ±%d", wm, int64(maxMillis))
	}
	nw := &Windows[K, T, S]{
		kind:      w.kind,
		size:      w.size,
		slide:     w.slide,
		lateness:  w.lateness,
		max:       w.max,
		init:      w.init,
		add:       w.add,
		merge:     w.merge,
		free:      w.free,
		wm:        wm,
		freeEntry: -1,
		freeBkt:   -1,
		added:     d.Uvarint("Added"), // read in this order: calls in a literal run left to right
		firedN:    d.Uvarint("Fired"),
		updates:   d.Uvarint("Updates"),
		late:      d.Uvarint("Late"),
		full:      d.Uvarint("Full"),
		seq:       d.Uvarint("sequence"),
	}
	if nw.kind == kindSession {
		nw.sessions = make(map[K]int32)
	} else {
		nw.slots = make(map[slot[K]]int32)
		nw.starts = make(map[int64]int32)
		nw.keyRefs = make(map[K]int32)
	}
	// A window takes at least 9 bytes: sequence, start, fired, count and
	// one entry of 5.
	n := d.Count("windows", math.MaxInt32, 9)
	nw.buckets = make([]bucket, 0, n)
	var seq uint64
	for i := 0; i < n && d.Err == nil; i++ {
		nw.restoreWindow(d, i, &seq, restoreKeyState)
	}
	if d.Err == nil && n > 0 && seq >= nw.seq {
		d.Fail(d.Off, "next sequence number %d is not above the last window's, %d", nw.seq, seq)
	}
	if d.Err == nil && d.Rest() != 0 {
		d.Fail(d.Off, "%d bytes after the end", d.Rest())
	}
	if d.Err == nil && nw.kind == kindSession {
		nw.checkSessions(d)
	}
	if d.Err != nil {
		return nil
	}
	nw.heapify(nw.pending)
	nw.heapify(nw.fired)
	return nw
}

// restoreWindow decodes the i-th window; *seq is the previous window's
// sequence number, and becomes this one's.
func (w *Windows[K, T, S]) restoreWindow(d *stateDecoder, i int, seq *uint64, restoreKeyState func([]byte) (K, S, error)) {
	at := d.Off
	gap := d.Uvarint("window sequence number")
	if d.Err == nil && i > 0 && gap == 0 {
		d.Fail(at, "window %d: sequence numbers not ascending", i)
	}
	var carry uint64
	*seq, carry = bits.Add64(*seq, gap, 0)
	if d.Err == nil && carry != 0 {
		d.Fail(at, "window %d: sequence number overflows", i)
	}
	// Items are at ±maxMillis at most: aligned windows start at most a
	// size before, sessions end at most a gap after.
	at = d.Off
	start := d.Varint("window start")
	end, length := start+w.size, uint64(w.size)
	if w.kind == kindSession {
		length = d.Uvarint("window length")
		end = start + int64(length) // wraps for a length beyond int64, refused below
	}
	fired := d.Byte("window fired")
	if d.Err != nil {
		return
	}
	_, dupStart := w.starts[start]
	switch {
	case w.kind != kindSession && (start < -maxMillis-w.size || start > maxMillis),
		w.kind == kindSession && (start < -maxMillis || start > maxMillis):
		d.Fail(at, "window %d: start %d out of range", i, start)
	case w.kind == kindSession && (length < uint64(w.size) || length > uint64(maxMillis+w.size)-uint64(start)):
		d.Fail(at, "window %d: a session of %d ms from %d, shorter than the gap or ending out of range", i, length, start)
	case w.kind == kindTumbling && floorMod(start, w.size) != 0,
		w.kind == kindHopping && floorMod(start, w.slide) != 0:
		d.Fail(at, "window %d: start %d not aligned", i, start)
	case dupStart:
		d.Fail(at, "window %d: start %d appears twice", i, start)
	case w.isLate(end):
		d.Fail(at, "window %d [%d, %d): expired, the watermark is %d", i, start, end, w.wm)
	case fired > 1:
		d.Fail(d.Off-1, "window %d: fired is %d, not 0 or 1", i, fired)
	case fired == 1 && end-1 > w.wm:
		d.Fail(at, "window %d [%d, %d): fired before the watermark reached it", i, start, end)
	}
	if d.Err != nil {
		return
	}
	id := int32(len(w.buckets))
	w.buckets = append(w.buckets, bucket{start: start, end: end, seq: *seq, fired: fired == 1, next: -1})
	if w.kind != kindSession {
		w.starts[start] = id
	}

	at = d.Off
	m := d.Count("window keys", math.MaxInt32, 5)
	if d.Err == nil && (m == 0 || w.kind == kindSession && m != 1) {
		d.Fail(at, "window %d: %d keys", i, m)
	}
	for j := 0; j < m && d.Err == nil; j++ {
		at := d.Off
		flags := d.Byte("entry flags")
		blob := d.Take(uint64(d.Uint32("entry length")), "entry")
		if d.Err != nil {
			return
		}
		emitted, dirty := flags&entryEmitted != 0, flags&entryDirty != 0
		b := &w.buckets[id]
		switch {
		case flags&^(entryEmitted|entryDirty) != 0:
			d.Fail(at, "window %d key %d: unknown flags %#02x", i, j, flags)
		case dirty && !b.fired:
			d.Fail(at, "window %d key %d: changed since emitted, but the window has not fired", i, j)
		case b.fired && !emitted && !dirty:
			d.Fail(at, "window %d key %d: neither emitted nor due, in a fired window", i, j)
		case emitted && !b.fired && w.kind != kindSession:
			d.Fail(at, "window %d key %d: emitted, but the window has not fired", i, j)
		}
		if d.Err != nil {
			return
		}
		key, state, err := restoreKeyState(blob)
		if err != nil {
			d.Err = fmt.Errorf("%w: window %d key %d (at byte %d): %w", ErrInvalidState, i, j, at, err)
			return
		}
		if w.kind != kindSession {
			if _, dup := w.slots[slot[K]{key, start}]; dup {
				d.Fail(at, "window %d key %d: %v appears twice", i, j, key)
				return
			}
		}
		idx := int32(len(w.entries))
		w.entries = append(w.entries, entry[K, S]{key: key, state: state, bucket: id, ord: int32(j), next: -1, dirty: dirty, emitted: emitted})
		b.entries = append(b.entries, idx)
		w.live++
		if dirty {
			b.dirty = append(b.dirty, idx)
			if !b.inDirty {
				b.inDirty = true
				w.dirty = append(w.dirty, id)
			}
		}
		if w.kind == kindSession {
			if head, ok := w.sessions[key]; ok {
				w.entries[idx].next = head // newest first, as addSession links them
			}
			w.sessions[key] = idx
		} else {
			w.slots[slot[K]{key, start}] = idx
			w.keyRefs[key]++
		}
	}
	if d.Err != nil {
		return
	}
	if b := &w.buckets[id]; b.fired {
		w.fired = append(w.fired, id)
	} else {
		w.pending = append(w.pending, id)
	}
}

// checkSessions fails for two sessions of one key that overlap or touch
// (addSession would have merged them), once the whole state is read.
func (w *Windows[K, T, S]) checkSessions(d *stateDecoder) {
	spans := w.scratch[:0]
	for _, head := range w.sessions {
		spans = spans[:0]
		for i := head; i >= 0; i = w.entries[i].next {
			spans = append(spans, w.entries[i].bucket)
		}
		slices.SortFunc(spans, func(x, y int32) int { return cmp.Compare(w.buckets[x].start, w.buckets[y].start) })
		for i := 1; i < len(spans); i++ {
			if a, b := &w.buckets[spans[i-1]], &w.buckets[spans[i]]; b.start <= a.end {
				d.Fail(d.Off, "sessions [%d, %d) and [%d, %d) of one key overlap or touch", a.start, a.end, b.start, b.end)
				return
			}
		}
	}
	w.scratch = spans[:0]
}

// heapify orders h, a heap of buckets, and records each one's position.
func (w *Windows[K, T, S]) heapify(h []int32) {
	for i, id := range h {
		w.buckets[id].hpos = int32(i)
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		w.hdown(h, i, len(h))
	}
}

func describe(k kind, size, slide uint64) string {
	return Assigner{kind: k, size: durationOf(size), slide: durationOf(slide)}.String()
}

func durationOf(ms uint64) time.Duration {
	return time.Duration(min(ms, math.MaxInt64/uint64(time.Millisecond))) * time.Millisecond
}

// stateDecoder reads a state: a wire.Reader whose errors wrap
// ErrInvalidState.
type stateDecoder struct{ wire.Reader }

func invalidState(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidState, msg) }
