package aggregate

import "errors"

// ErrInvalidConfig is returned, wrapped with the setting that is wrong, by
// [NewSet], [NewSeries], [NewGlobal], [NewDistinct], [NewTopK] and [NewRate].
var ErrInvalidConfig = errors.New("aggregate: invalid config")

// ErrOutOfRange is returned, wrapped with the times involved, by [Series.Add],
// [Series.Put] and [Global.Put] for an event or a window older than the
// oldest window the series keeps. Nothing is recorded; the caller decides where such data goes
// (a late-data output, a counter).
var ErrOutOfRange = errors.New("aggregate: older than the series keeps")

// ErrInvalidRange is returned, wrapped with the times involved, by
// [Series.Metrics], [Series.User] and [Global.Metrics] when to is not after
// from, by [Series.Put] and [Global.Put] when a window start is not aligned
// to the window length, and by [Set.MarshalBinary] and [Set.AppendState]
// for a span outside the years 1 to 9999.
var ErrInvalidRange = errors.New("aggregate: invalid time range")

// ErrCorrupt is returned, wrapped with what is wrong and where, by
// [Set.UnmarshalBinary] for input that is not a Set encoded by
// [Set.MarshalBinary] (truncated, altered, hostile, or of an unknown
// version).
var ErrCorrupt = errors.New("aggregate: corrupt encoded Set")

// ErrInvalidState is returned, wrapped with what is wrong and where, by
// [Set.RestoreState] for input that is not a state written by
// [Set.AppendState] (truncated, altered, or of an unknown version).
var ErrInvalidState = errors.New("aggregate: invalid Set state")

// ErrTooLarge is returned, wrapped with the size, by [Set.MarshalBinary]
// and [Set.AppendState] for a Set with more than MaxEncodedEventTypes
// event types.
var ErrTooLarge = errors.New("aggregate: Set too large to encode")

// ErrTooManySources is returned, wrapped with the limit, by [Global.Put]
// for a new source when GlobalConfig.MaxSources sources are held already.
// Nothing is recorded.
var ErrTooManySources = errors.New("aggregate: too many sources")
