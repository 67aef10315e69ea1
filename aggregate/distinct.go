package aggregate

import (
	"fmt"
	"math/bits"

	"github.com/axiomhq/hyperloglog"
)

// DefaultDistinctThreshold is the default [DistinctConfig.Threshold].
const DefaultDistinctThreshold = 4096

// MaxDistinctThreshold is the largest [DistinctConfig.Threshold] accepted.
const MaxDistinctThreshold = 1 << 24

// distinctPrecision is the HyperLogLog precision: 2^14 registers of one
// byte, 16 KiB per sketch. It is fixed so that any two Distincts can merge.
const distinctPrecision = 14

// DistinctStdError is the relative standard error of a [Distinct] past its
// threshold: 1.04/√(2^14) ≈ 0.81%. About 68% of estimates fall within one
// standard error of the true count, 95% within two, and 99.7% within three
// (2.4%).
const DistinctStdError = 1.04 / 128

// DistinctConfig configures a [Distinct]. The zero value is valid.
type DistinctConfig struct {
	// Threshold is the largest number of distinct keys counted exactly.
	// Past it, the Distinct switches to a HyperLogLog sketch (16 KiB,
	// relative standard error DistinctStdError) and stays there until
	// Reset. Optional; default DefaultDistinctThreshold; at most
	// MaxDistinctThreshold. Memory in the exact phase is about 16 bytes per
	// key.
	Threshold int
}

func (c *DistinctConfig) setDefaults() {
	if c.Threshold == 0 {
		c.Threshold = DefaultDistinctThreshold
	}
}

// Validate reports whether the (defaulted) settings are usable.
func (c DistinctConfig) Validate() error {
	if c.Threshold < 0 || c.Threshold > MaxDistinctThreshold {
		return fmt.Errorf("Threshold must be between 0 (default) and %d, got %d", MaxDistinctThreshold, c.Threshold)
	}
	return nil
}

// Distinct counts distinct keys (active users, say): exactly up to a
// threshold, then approximately with a HyperLogLog sketch
// (github.com/axiomhq/hyperloglog, precision 14, dense registers) whose
// relative standard error is [DistinctStdError] (0.81%). The exact phase
// keeps 64-bit hashes of the keys, not the keys, so it is exact unless two
// keys collide in 64 bits (probability below n²/2⁶⁵: 3·10⁻¹³ at n = 4096).
//
// Merge is exact in the exact phase and lossless past it: a merged sketch
// has the same registers, hence the same estimate, as one sketch fed the
// union of the keys. Any two Distincts merge, whatever their thresholds;
// the receiver's threshold decides when a merged result turns approximate.
//
// Keys are hashed with a fixed 64-bit hash (see [Distinct.Add]); that hash
// is part of what makes Distincts from different processes mergeable.
//
// The zero value is an empty Distinct with the default threshold. A Distinct
// is not safe for concurrent use; the goroutine that adds to it owns it.
type Distinct struct {
	threshold int
	exact     map[uint64]struct{}
	sketch    *hyperloglog.Sketch // kept across Reset for reuse
	approx    bool                // the sketch is in use
}

// NewDistinct returns an empty Distinct, or an error wrapping
// ErrInvalidConfig that names the bad setting.
func NewDistinct(cfg DistinctConfig) (*Distinct, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Distinct{threshold: cfg.Threshold}, nil
}

func (d *Distinct) limit() int {
	if d.threshold == 0 {
		return DefaultDistinctThreshold
	}
	return d.threshold
}

// Add counts key. It does not allocate once the sketch is in use, and in
// the exact phase only when the hash set grows. Keys are hashed with the
// package's fixed 64-bit string hash (modelled on wyhash); use
// [Distinct.AddHash] to bring your own.
func (d *Distinct) Add(key string) { d.AddHash(hashString(key)) }

// AddHash counts a key by its 64-bit hash, which must be uniformly
// distributed (a good hash function's output). Do not mix it with [Distinct.Add]
// on one Distinct unless both use the same hash.
func (d *Distinct) AddHash(h uint64) {
	if d.approx {
		d.sketch.InsertHash(h)
		return
	}
	if d.exact == nil {
		d.exact = make(map[uint64]struct{})
	}
	d.exact[h] = struct{}{}
	if len(d.exact) > d.limit() {
		d.toSketch()
	}
}

// toSketch moves the exact hashes into the sketch.
func (d *Distinct) toSketch() {
	if d.sketch == nil {
		d.sketch, _ = hyperloglog.NewSketch(distinctPrecision, false) // valid precision: no error
	} else {
		d.sketch.Reset()
	}
	for h := range d.exact {
		d.sketch.InsertHash(h)
	}
	clear(d.exact)
	d.approx = true
}

// Count returns the number of distinct keys: exact while Exact reports
// true, an estimate within DistinctStdError (one standard error) after.
func (d *Distinct) Count() uint64 {
	if d.approx {
		return d.sketch.Estimate()
	}
	return uint64(len(d.exact))
}

// Exact reports whether Count is exact (the threshold has not been passed).
func (d *Distinct) Exact() bool { return !d.approx }

// Merge adds other's keys to d, as if d had been fed the union of both
// inputs. A nil other, or d itself, changes nothing.
func (d *Distinct) Merge(other *Distinct) {
	if other == nil || other == d {
		return
	}
	switch {
	case other.approx:
		if !d.approx {
			d.toSketch()
		}
		_ = d.sketch.Merge(other.sketch) // equal precisions: no error
	case d.approx:
		for h := range other.exact {
			d.sketch.InsertHash(h)
		}
	default:
		if d.exact == nil {
			d.exact = make(map[uint64]struct{}, len(other.exact))
		}
		for h := range other.exact {
			d.exact[h] = struct{}{}
		}
		if len(d.exact) > d.limit() {
			d.toSketch()
		}
	}
}

// Reset empties d, keeping its hash set and sketch for reuse.
func (d *Distinct) Reset() {
	clear(d.exact)
	if d.sketch != nil {
		d.sketch.Reset()
	}
	d.approx = false
}

// hashString is a fixed (seedless, process-independent) 64-bit hash
// modelled on wyhash (Wang Yi, public domain): its original secrets, seed 0,
// its short-input path, and its 16-byte loop for all longer inputs. Its
// output picks HyperLogLog registers, so it must stay the same across
// versions for sketches to merge: a test pins its values.
func hashString(s string) uint64 {
	const (
		s0 = 0xa0761d6478bd642f
		s1 = 0xe7037ed1a0b428db
	)
	n := len(s)
	seed := mix(s0, s1) // seed 0 mixed with the secrets, as wyhash does
	var a, b uint64
	switch {
	case n == 0:
	case n < 4:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n <= 16:
		q := (n >> 3) << 2
		a = read4(s, 0)<<32 | read4(s, q)
		b = read4(s, n-4)<<32 | read4(s, n-4-q)
	default:
		i := 0
		for ; n-i > 16; i += 16 {
			seed = mix(read8(s, i)^s1, read8(s, i+8)^seed)
		}
		a = read8(s, n-16)
		b = read8(s, n-8)
	}
	hi, lo := bits.Mul64(a^s1, b^seed)
	return mix(lo^s0^uint64(n), hi^s1)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func read4(s string, i int) uint64 {
	_ = s[i+3]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24
}

func read8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}
