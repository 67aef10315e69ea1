package rdr

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound what a [Decoder] accepts, so that no input can make it
// allocate without bound. The zero value of every field means "use the
// default"; the time limits can be switched off with a negative value.
type Limits struct {
	// MaxEventBytes is the largest single event, in bytes of JSON.
	// Optional; default 64 KiB.
	MaxEventBytes int
	// MaxBatchBytes is the largest input to [Decoder.Events] (one Kafka
	// record or one HTTP body). Optional; default 8 MiB.
	MaxBatchBytes int
	// MaxBatchEvents is the most items one batch may hold. Optional;
	// default 10,000.
	MaxBatchEvents int
	// MaxStringBytes is the longest eventType or userId, in bytes after
	// unescaping. Optional; default 256.
	MaxStringBytes int
	// MaxMetadataBytes is the largest metadata object, in bytes of JSON as
	// sent. Optional; default 8 KiB.
	MaxMetadataBytes int
	// MaxMetadataDepth is how deeply values may nest inside metadata; the
	// metadata object itself is depth 1. Optional; default 8.
	MaxMetadataDepth int
	// MaxFuture is how far after the decoder's clock a timestamp may lie
	// (clock skew at the sources). Optional; default 1 h; negative: no limit.
	MaxFuture time.Duration
	// MaxPast is how far before the decoder's clock a timestamp may lie.
	// Optional; default 30 days; negative: no limit. Events that are merely
	// late for their window are not refused here: package window routes
	// them to the late-data output.
	MaxPast time.Duration
}

// Default limits, as documented on [Limits].
const (
	DefaultMaxEventBytes    = 64 << 10
	DefaultMaxBatchBytes    = 8 << 20
	DefaultMaxBatchEvents   = 10_000
	DefaultMaxStringBytes   = 256
	DefaultMaxMetadataBytes = 8 << 10
	DefaultMaxMetadataDepth = 8
	DefaultMaxFuture        = time.Hour
	DefaultMaxPast          = 30 * 24 * time.Hour
)

func (l *Limits) setDefaults() {
	setDefault(&l.MaxEventBytes, DefaultMaxEventBytes)
	setDefault(&l.MaxBatchBytes, DefaultMaxBatchBytes)
	setDefault(&l.MaxBatchEvents, DefaultMaxBatchEvents)
	setDefault(&l.MaxStringBytes, DefaultMaxStringBytes)
	setDefault(&l.MaxMetadataBytes, DefaultMaxMetadataBytes)
	setDefault(&l.MaxMetadataDepth, DefaultMaxMetadataDepth)
	setDefault(&l.MaxFuture, DefaultMaxFuture)
	setDefault(&l.MaxPast, DefaultMaxPast)
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports settings that cannot work: negative sizes, or sizes that
// contradict each other.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxEventBytes", l.MaxEventBytes},
		{"MaxBatchBytes", l.MaxBatchBytes},
		{"MaxBatchEvents", l.MaxBatchEvents},
		{"MaxStringBytes", l.MaxStringBytes},
		{"MaxMetadataBytes", l.MaxMetadataBytes},
		{"MaxMetadataDepth", l.MaxMetadataDepth},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", f.name, f.v))
		}
	}
	if l.MaxEventBytes > 0 && l.MaxBatchBytes > 0 && l.MaxBatchBytes < l.MaxEventBytes {
		errs = append(errs, fmt.Errorf("MaxBatchBytes (%d) must be at least MaxEventBytes (%d)", l.MaxBatchBytes, l.MaxEventBytes))
	}
	return errors.Join(errs...)
}
