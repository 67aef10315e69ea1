package aggregate

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/rdr-go/rdr/internal/wire"
)

// encodingVersion is the first byte of every encoded Set.
const encodingVersion = 1

// MaxEncodedEventTypes is the most event types an encoded Set may hold:
// [Set.MarshalBinary] refuses a Set with more (ErrTooLarge), and
// [Set.UnmarshalBinary] refuses input that claims more (ErrCorrupt). It
// bounds what decoding hostile input can allocate.
const MaxEncodedEventTypes = 1 << 16

// Flags of the encoding's second byte.
const (
	flagSpan   = 1 << 0 // a span follows the config
	flagSketch = 1 << 1 // distinct users are a HyperLogLog sketch
)

// The sketch: a dense precision-14 HyperLogLog, whose registers hold 0 to
// 64-14+1. github.com/axiomhq/hyperloglog writes it (its version 2) as an
// 8-byte header and one byte per register; the encoding packs them.
const (
	hllHeader   = 8
	hllRegs     = 1 << distinctPrecision
	hllMaxReg   = 64 - distinctPrecision + 1
	hllVersion2 = 2
	hllEscape   = 15 // a 4-bit register offset that means "the full value follows"
)

// The span must lie within the years 1 to 9999 (UTC).
var (
	minSpanSec = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxSpanSec = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// MarshalBinary encodes the bounded part of s — what a compacted Set holds
// (see [Set.Compact]) — so that another process can merge it: it is the
// wire format of a partial window result. It implements
// encoding.BinaryMarshaler; [Set.UnmarshalBinary] decodes it.
//
// It returns an error wrapping ErrInvalidRange when the span lies outside
// the years 1 to 9999, and one wrapping ErrTooLarge when s holds more than
// MaxEncodedEventTypes event types.
//
// # Format
//
// Version 1. Integers are unsigned varints (encoding/binary's Uvarint),
// minimally encoded, except where a width is given; a string is a varint
// length and its bytes.
//
//	version      1 byte: 1
//	flags        1 byte: bit 0 a span follows, bit 1 distinct users are a
//	             sketch; the other bits are 0
//	config       TopN, TopKCapacity, DistinctThreshold (defaults filled in)
//	span         if flagged: start and end, each as Unix seconds (a signed
//	             varint) and nanoseconds (< 1e9); years 1 to 9999, end
//	             after start
//	total        the event count
//	bySeverity   5 counts: invalid severity, low, medium, high, critical;
//	             they sum to total
//	types        a count n (at most MaxEncodedEventTypes), then n times an
//	             event type (a string) and its count (>= 1), types in
//	             strictly ascending byte order; the counts sum to total
//	distinct     exact: a count n (at most DistinctThreshold and total),
//	             then n 8-byte little-endian user-ID hashes (see
//	             Distinct), strictly ascending.
//	             sketch: the 2^14 registers (0 to 51) of the dense
//	             precision-14 HyperLogLog: 1 byte base, the smallest
//	             register; 8192 bytes of registers minus base, 4 bits each,
//	             high nibble first, 15 meaning base+15 or more; then 1 byte
//	             per register whose nibble is 15, its value, in register
//	             order
//	top users    the summary's total N (<= total), a count n (at most
//	             TopKCapacity), then n times: user ID (a string), count
//	             (1..N), error (<= count); by count descending, then key
//	             ascending
//	top IPs      the same, with each address as a varint length and
//	             netip.Addr's binary form (4 bytes, or 16 and a zone)
//
// Every Set has exactly one encoding, so equal Sets encode to equal bytes
// and a decoded Set encodes back to its input. The per-user and per-IP
// tables are not encoded: they grow with the traffic. A busy one-second
// window (10,000 users, 12 event types, default config) takes about
// 10 KiB, most of it the sketch; a window below the distinct threshold
// takes about 8 bytes per user.
func (s *Set) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.encodedSizeHint()))
}

// AppendBinary appends the encoding of s (see [Set.MarshalBinary]) to b
// and returns the extended buffer; on error it returns b unchanged. It
// implements encoding.BinaryAppender. It does not change s.
func (s *Set) AppendBinary(b []byte) ([]byte, error) {
	s.ready()
	b0 := b
	if err := s.checkEncodable(); err != nil {
		return b, err
	}
	b = s.appendHead(b, encodingVersion, s.headFlags())

	types := s.types.users
	order := make([]int32, len(types))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int { return strings.Compare(types[i].key, types[j].key) })
	b = binary.AppendUvarint(b, uint64(len(order)))
	for _, i := range order {
		b = appendString(b, types[i].key)
		b = binary.AppendUvarint(b, types[i].count)
	}

	if s.activeUsers.approx {
		var ok bool
		if b, ok = appendSketch(b, s.activeUsers.sketch); !ok {
			return b[:len(b0)], errSketchNotDense
		}
	} else {
		b = appendHashes(b, s.activeUsers.exact)
	}

	b = appendTopK(b, &s.topUsers, strings.Compare, appendString)
	b = appendTopK(b, &s.topIPs, netip.Addr.Compare, appendAddr)
	return b, nil
}

// checkEncodable returns the error AppendBinary and AppendState return
// for a Set they cannot encode: a span outside the years 1 to 9999
// (ErrInvalidRange), more than MaxEncodedEventTypes event types
// (ErrTooLarge).
func (s *Set) checkEncodable() error {
	start, end := s.rate.Span()
	if end.After(start) && (!spanTimeOK(start) || !spanTimeOK(end)) {
		return fmt.Errorf("%w: span %s to %s lies outside the years 1 to 9999", ErrInvalidRange,
			start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano))
	}
	if s.types.Len() > MaxEncodedEventTypes {
		return fmt.Errorf("%w: %d event types, at most %d can be encoded", ErrTooLarge, s.types.Len(), MaxEncodedEventTypes)
	}
	return nil
}

// headFlags returns flagSpan and flagSketch as they apply to s.
func (s *Set) headFlags() byte {
	var flags byte
	if s.rate.end.After(s.rate.start) {
		flags |= flagSpan
	}
	if s.activeUsers.approx {
		flags |= flagSketch
	}
	return flags
}

// appendHead appends what the partial encoding and the state share: the
// version, the flags, the config, the span if flagged, the total and the
// severities.
func (s *Set) appendHead(b []byte, version, flags byte) []byte {
	b = append(b, version, flags)
	b = binary.AppendUvarint(b, uint64(s.cfg.TopN))
	b = binary.AppendUvarint(b, uint64(s.cfg.TopKCapacity))
	b = binary.AppendUvarint(b, uint64(s.cfg.DistinctThreshold))
	if flags&flagSpan != 0 {
		b = appendTime(b, s.rate.start)
		b = appendTime(b, s.rate.end)
	}
	b = binary.AppendUvarint(b, s.rate.Count())
	for _, n := range s.severity {
		b = binary.AppendUvarint(b, n)
	}
	return b
}

// encodedSizeHint returns about the size of s's encoding, a little more
// rather than less, so that MarshalBinary allocates once.
func (s *Set) encodedSizeHint() int {
	n := 128
	for i := range s.types.users {
		n += len(s.types.users[i].key) + 12
	}
	if s.activeUsers.approx {
		n += hllHeader + hllRegs
	} else {
		n += 8 * len(s.activeUsers.exact)
	}
	for _, c := range s.topUsers.slots {
		n += len(c.key) + 16
	}
	return n + 40*len(s.topIPs.slots)
}

func spanTimeOK(t time.Time) bool {
	sec := t.Unix()
	return sec >= minSpanSec && sec <= maxSpanSec
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	n := 16 + len(a.Zone())
	if a.Is4() {
		n = 4
	}
	b = binary.AppendUvarint(b, uint64(n))
	b, _ = a.AppendBinary(b) // never fails
	return b
}

// appendHashes appends the exact distinct users' hashes: their number,
// then each as 8 bytes little-endian, ascending.
func appendHashes(b []byte, exact map[uint64]struct{}) []byte {
	hashes := make([]uint64, 0, len(exact))
	for h := range exact {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	b = binary.AppendUvarint(b, uint64(len(hashes)))
	for _, h := range hashes {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	return b
}

// errSketchNotDense is the internal error of appendSketch's false.
var errSketchNotDense = errors.New("aggregate: internal error: the distinct-users sketch is not dense")

// appendSketch appends sk, a dense precision-14 sketch, as the encoding
// lays it out: the smallest register (base), the registers minus base four
// bits each (high nibble first; 15 for a register of base+15 or more), then
// the full value of each such register, in register order. It packs the
// registers in place, where the sketch's own encoding put them.
// It reports false, for a sketch that is not dense (Distinct never makes
// one).
func appendSketch(b []byte, sk *hyperloglog.Sketch) ([]byte, bool) {
	at := len(b)
	b, _ = sk.AppendBinary(b) // precision 14: no error
	regs := b[at+hllHeader:]
	if b[at+3] != 0 || len(regs) != hllRegs {
		return b, false
	}
	base := slices.Min(regs)
	var escapedBuf [64]byte // rarely more than a few
	escaped := escapedBuf[:0]
	nibble := func(r byte) byte {
		if r-base >= hllEscape {
			escaped = append(escaped, r)
			return hllEscape
		}
		return r - base
	}
	b[at] = base
	for i := range hllRegs / 2 { // writes at at+1+i, reads at at+8+2i: ahead
		hi := nibble(regs[2*i])
		b[at+1+i] = hi<<4 | nibble(regs[2*i+1])
	}
	return append(b[:at+1+hllRegs/2], escaped...), true
}

// appendTopK appends a summary's total, its size and its entries ordered by
// count descending, then key ascending.
func appendTopK[K comparable](b []byte, t *TopK[K], compare func(a, b K) int, appendKey func([]byte, K) []byte) []byte {
	b = binary.AppendUvarint(b, t.total)
	b = binary.AppendUvarint(b, uint64(t.Len()))
	items := make([]Item[K], 0, t.Len())
	for it := range t.All() {
		items = append(items, it)
	}
	// Keys are unique, so this order is total: no need for a stable sort.
	slices.SortFunc(items, func(x, y Item[K]) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return compare(x.Key, y.Key)
	})
	for _, it := range items {
		b = appendKey(b, it.Key)
		b = binary.AppendUvarint(b, it.Count)
		b = binary.AppendUvarint(b, it.Error)
	}
	return b
}

// UnmarshalBinary replaces s's contents by the Set encoded in data by
// [Set.MarshalBinary], config included. It implements
// encoding.BinaryUnmarshaler. The result is compacted (see [Set.Compact]):
// Metrics gives what Metrics of the compacted original gives (with the
// span in UTC), and merging it into another Set gives what merging the
// compacted original would. data is not retained.
//
// Input that is not such an encoding — truncated, altered, hostile, or of
// an unknown version — gets an error wrapping ErrCorrupt that says what is
// wrong and at which byte, and s is left empty. Decoding never panics and
// checks every length against the bytes left before allocating for it.
// What it allocates is bounded whatever the input: about five times
// len(data) for the exact user hashes, and at most about 30 MiB for the
// event types and the top-K summaries (at most MaxEncodedEventTypes and
// 2 × MaxTopKCapacity entries; a test decodes that worst case).
func (s *Set) UnmarshalBinary(data []byte) error {
	d := newDecoder(data, ErrCorrupt)
	s.decode(&d)
	if d.Err != nil {
		s.Reset()
		return d.Err
	}
	return nil
}

func (s *Set) decode(d *decoder) {
	flags, total := s.decodeHead(d, encodingVersion, flagSpan|flagSketch)
	if d.Err != nil {
		return
	}
	s.dropTables()
	s.decodeTypes(d, total, true)
	s.decodeDistinct(d, flags&flagSketch != 0, total)
	decodeTopK(d, &topUsersLabels, &s.topUsers, total, d.String, strings.Compare)
	decodeTopK(d, &topIPsLabels, &s.topIPs, total, d.addr, netip.Addr.Compare)
	if d.Err == nil && d.Rest() != 0 {
		d.Fail(d.Off, "%d bytes after the end", d.Rest())
	}
}

// decodeHead reads what appendHead writes, with a version of version and
// flags among known, into s: it empties s and gives it the decoded config,
// then reads the span, the total and the severities. It returns the flags
// and the total.
func (s *Set) decodeHead(d *decoder, version, known byte) (flags byte, total uint64) {
	if len(d.Data) == 0 {
		d.Fail(0, "empty input")
		return 0, 0
	}
	if v := d.Byte("version"); v != version {
		d.Fail(0, "unsupported version %d (this build reads version %d)", v, version)
		return 0, 0
	}
	flags = d.Byte("flags")
	if flags&^known != 0 {
		d.Fail(1, "unknown flags %#02x", flags)
		return 0, 0
	}
	var cfg SetConfig
	cfg.TopN = d.intIn("TopN", 1, MaxTopN)
	cfg.TopKCapacity = d.intIn("TopKCapacity", max(cfg.TopN, 1), MaxTopKCapacity)
	cfg.DistinctThreshold = d.intIn("DistinctThreshold", 1, MaxDistinctThreshold)
	if d.Err != nil {
		return 0, 0
	}
	s.Reset()
	if s.topUsers.capacity == 0 || s.cfg != cfg {
		s.cfg = cfg
		s.topUsers, s.topIPs = TopK[string]{}, TopK[netip.Addr]{}
		s.init()
	}

	if flags&flagSpan != 0 {
		at := d.Off
		start, end := d.time("span start", "span start seconds", "span start nanoseconds"),
			d.time("span end", "span end seconds", "span end nanoseconds")
		if d.Err == nil && !end.After(start) {
			d.Fail(at, "span end %s is not after start %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
		}
		s.rate.start, s.rate.end = start, end
	}
	at := d.Off
	total = d.Uvarint("total events")
	s.rate.events.n = total
	var sum, carry uint64
	for i := range s.severity {
		n := d.Uvarint("bySeverity")
		s.severity[i] = n
		sum, carry = bits.Add64(sum, n, carry)
	}
	if d.Err == nil && (carry != 0 || sum != total) {
		d.Fail(at, "bySeverity does not sum to the total, %d", total)
	}
	return flags, total
}

// decodeTypes reads the event types and their counts into s.types: in
// strictly ascending order when sorted (the partial encoding), in any order
// without repeats otherwise (the state, which keeps the table's order).
func (s *Set) decodeTypes(d *decoder, total uint64, sorted bool) {
	at := d.Off
	n := d.Count("event types", MaxEncodedEventTypes, 2)
	s.types.reserve(n)
	var prev string
	var sum, carry uint64
	for i := 0; i < n && d.Err == nil; i++ {
		at := d.Off
		key := d.String("event type")
		c := d.Uvarint("event type count")
		switch {
		case d.Err != nil:
			return
		case sorted && i > 0 && key <= prev:
			d.Fail(at, "event types not in strictly ascending order: %q after %q", key, prev)
			return
		case !sorted && s.types.has(key):
			d.Fail(at, "event type %q appears twice", key)
			return
		case c == 0:
			d.Fail(at, "event type %q has count 0", key)
			return
		}
		sum, carry = bits.Add64(sum, c, carry)
		s.types.insert(key, userState{count: c})
		prev = key
	}
	if d.Err == nil && (carry != 0 || sum != total) {
		d.Fail(at, "event type counts do not sum to the total, %d", total)
	}
}

func (s *Set) decodeDistinct(d *decoder, sketch bool, total uint64) {
	if d.Err != nil {
		return
	}
	dist := &s.activeUsers
	if sketch {
		s.decodeSketch(d)
		return
	}
	at := d.Off
	n := d.Count("distinct users", uint64(s.cfg.DistinctThreshold), 8)
	if d.Err == nil && uint64(n) > total {
		d.Fail(at, "%d distinct users, more than the %d events", n, total)
	}
	if d.Err != nil {
		return
	}
	if dist.exact == nil {
		dist.exact = make(map[uint64]struct{}, n)
	}
	hashes := d.Take(uint64(8*n), "distinct user hashes")
	var prev uint64
	for i := range n {
		h := binary.LittleEndian.Uint64(hashes[8*i:])
		if i > 0 && h <= prev {
			d.Fail(at, "distinct user hashes not in strictly ascending order (hash %d)", i)
			return
		}
		dist.exact[h] = struct{}{}
		prev = h
	}
}

// topKLabels name a summary's fields in errors, made once rather than per
// entry decoded.
type topKLabels struct{ name, total, key, count, err, heap string }

var (
	topUsersLabels = topKLabels{"top users", "top users total", "top users key", "top users count", "top users error", "top users heap"}
	topIPsLabels   = topKLabels{"top IPs", "top IPs total", "top IPs key", "top IPs count", "top IPs error", "top IPs heap"}
)

// decodeSketch reads a sketch written by appendSketch into s.activeUsers.
func (s *Set) decodeSketch(d *decoder) {
	at := d.Off
	base := d.Byte("distinct users sketch base")
	packed := d.Take(hllRegs/2, "distinct users sketch registers")
	if d.Err != nil {
		return
	}
	if base > hllMaxReg {
		d.Fail(at, "distinct users sketch: base %d above %d", base, hllMaxReg)
		return
	}
	// The sketch's own encoding (version 2, dense), for it to validate.
	buf := make([]byte, hllHeader+hllRegs)
	copy(buf, []byte{hllVersion2, distinctPrecision, 0, 0})
	binary.BigEndian.PutUint32(buf[4:], hllRegs)
	regs := buf[hllHeader:]
	minNibble, escapes := byte(hllEscape), 0
	for i, p := range packed {
		hi, lo := p>>4, p&0x0f
		regs[2*i], regs[2*i+1] = hi+base, lo+base
		minNibble = min(minNibble, hi, lo)
		escapes += int(hi/hllEscape + lo/hllEscape)
	}
	if minNibble != 0 {
		d.Fail(at, "distinct users sketch: base %d is not the smallest register", base)
		return
	}
	for i := 0; escapes > 0; i++ { // the registers whose nibble is 15, in order
		if regs[i] != base+hllEscape {
			continue
		}
		escapes--
		full := d.Byte("distinct users sketch register")
		if d.Err != nil {
			return
		}
		if full < base+hllEscape || full > hllMaxReg {
			d.Fail(d.Off-1, "distinct users sketch: register %d escaped with %d, want %d to %d", i, full, base+hllEscape, hllMaxReg)
			return
		}
		regs[i] = full
	}
	dist := &s.activeUsers
	if dist.sketch == nil {
		dist.sketch = new(hyperloglog.Sketch)
	}
	if err := dist.sketch.UnmarshalBinary(buf); err != nil {
		d.Fail(at, "distinct users sketch: %v", err)
		return
	}
	dist.approx = true
}

// decodeTopK reads a summary written by appendTopK into t, whose capacity
// is the decoded TopKCapacity.
func decodeTopK[K comparable](d *decoder, l *topKLabels, t *TopK[K], total uint64, key func(string) K, compare func(a, b K) int) {
	if d.Err != nil {
		return
	}
	what := l.name
	at := d.Off
	sum := d.Uvarint(l.total)
	if d.Err == nil && sum > total {
		d.Fail(at, "%s: total %d exceeds the %d events", what, sum, total)
	}
	n := d.Count(what, uint64(t.Capacity()), 3)
	items := slices.Grow(t.scratch[:0], n)
	for i := 0; i < n && d.Err == nil; i++ {
		at := d.Off
		it := Item[K]{Key: key(l.key)}
		it.Count = d.Uvarint(l.count)
		it.Error = d.Uvarint(l.err)
		switch {
		case d.Err != nil:
		case it.Count == 0 || it.Count > sum:
			d.Fail(at, "%s: count %d outside 1 to the summary's total, %d", what, it.Count, sum)
		case it.Error > it.Count:
			d.Fail(at, "%s: error %d exceeds count %d", what, it.Error, it.Count)
		case i > 0 && !(it.Count < items[i-1].Count || it.Count == items[i-1].Count && compare(items[i-1].Key, it.Key) < 0):
			d.Fail(at, "%s: entries not ordered by count descending, then key ascending", what)
		}
		items = append(items, it)
	}
	if d.Err == nil {
		if len(t.index) == 0 && n > 1024 { // init sized it for 1024 keys
			t.index = make(map[K]int32, n)
		}
		t.slots, t.heap = slices.Grow(t.slots, n), slices.Grow(t.heap, n)
		t.rebuild(items) // sorted by count descending: a valid heap
		t.total = sum
	}
	clear(items)
	t.scratch = items[:0]
}

// decoder reads an encoded Set or a Set's state: a wire.Reader whose
// errors wrap ErrCorrupt (partials) or ErrInvalidState (state).
type decoder struct{ wire.Reader }

// newDecoder returns a decoder of data whose errors wrap invalid
// (ErrCorrupt or ErrInvalidState).
func newDecoder(data []byte, invalid error) decoder {
	f := corrupt // package-level functions: no closure to allocate per decode
	if invalid == ErrInvalidState {
		f = invalidState
	}
	return decoder{wire.Reader{Data: data, Invalid: f}}
}

func corrupt(msg string) error      { return fmt.Errorf("%w: %s", ErrCorrupt, msg) }
func invalidState(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidState, msg) }

// intIn reads a varint that must lie in [lo, hi].
func (d *decoder) intIn(what string, lo, hi int) int {
	at := d.Off
	v := d.Uvarint(what)
	if d.Err == nil && (v < uint64(lo) || v > uint64(hi)) {
		d.Fail(at, "%s %d outside %d to %d", what, v, lo, hi)
		return 0
	}
	return int(v)
}

// count reads an entry count of at most limit, each entry taking at least
// minBytes, and checks that they can fit in the bytes left: nothing is
// allocated for entries the input cannot hold.
func (d *decoder) count(what string, limit uint64, minBytes int) int {
	at := d.Off
	n := d.Uvarint(what)
	switch {
	case d.Err != nil:
		return 0
	case n > limit:
		d.Fail(at, "%s: %d entries, at most %d allowed", what, n, limit)
		return 0
	case n*uint64(minBytes) > uint64(d.Rest()):
		d.Fail(at, "%s: truncated (%d entries cannot fit in %d bytes)", what, n, d.Rest())
		return 0
	}
	return int(n)
}

func (d *decoder) addr(what string) netip.Addr {
	at := d.Off
	n := d.Uvarint(what)
	if d.Err == nil && n != 4 && n < 16 {
		d.Fail(at, "%s: a %d-byte address (want 4, or 16 and a zone)", what, n)
	}
	if d.Err == nil && n > uint64(d.Rest()) {
		d.Fail(at, "%s: truncated (%d bytes needed, %d left)", what, n, d.Rest())
	}
	b := d.Take(n, what)
	var a netip.Addr
	if d.Err == nil {
		if err := a.UnmarshalBinary(b); err != nil {
			d.Fail(at, "%s: %v", what, err)
		}
	}
	return a
}

func (d *decoder) time(what, whatSec, whatNsec string) time.Time {
	at := d.Off
	sec := d.Varint(whatSec)
	nsec := d.Uvarint(whatNsec)
	switch {
	case d.Err != nil:
		return time.Time{}
	case sec < minSpanSec || sec > maxSpanSec:
		d.Fail(at, "%s: %d seconds lies outside the years 1 to 9999", what, sec)
		return time.Time{}
	case nsec >= 1e9:
		d.Fail(at, "%s: %d nanoseconds, at most 999999999", what, nsec)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
