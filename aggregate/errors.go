package aggregate

import "errors"

// ErrInvalidConfig is returned, wrapped with the setting that is wrong, by
// [NewSet], [NewSeries], [NewDistinct], [NewTopK] and [NewRate].
var ErrInvalidConfig = errors.New("aggregate: invalid config")

// ErrOutOfRange is returned, wrapped with the times involved, by [Series.Add]
// and [Series.Put] for an event or a window older than the oldest window the
// series keeps. Nothing is recorded; the caller decides where such data goes
// (a late-data output, a counter).
var ErrOutOfRange = errors.New("aggregate: older than the series keeps")

// ErrInvalidRange is returned, wrapped with the times involved, by
// [Series.Metrics] and [Series.User] when to is not after from, and by
// [Series.Put] when a window start is not aligned to the series' window
// length.
var ErrInvalidRange = errors.New("aggregate: invalid time range")
