package window

import "errors"

var (
	// ErrInvalidConfig is matched (with errors.Is) by every error that [New],
	// [NewWatermarks], [Config.Validate], [WatermarkConfig.Validate] and
	// [Assigner.Validate] return. The message names the field and what is
	// wrong with it.
	ErrInvalidConfig = errors.New("window: invalid config")

	// ErrFull is returned by [Windows.Add] when the item would open a new
	// window while Config.MaxWindows windows are already open. The item is
	// not added anywhere and is counted in [Stats].Full; the caller decides
	// where it goes (a dead-letter output, a retry after the next Advance).
	// [Windows.RestoreState] returns it, wrapped with the numbers, for a
	// state that holds more than MaxWindows open windows.
	ErrFull = errors.New("window: too many open windows")

	// ErrTimeRange is returned by [Windows.Add] for an event time so far
	// from the Unix epoch (more than about 146 million years) that
	// millisecond arithmetic on it could overflow. The item is not added.
	ErrTimeRange = errors.New("window: event time out of range")

	// ErrInvalidState is matched by the errors [Windows.RestoreState]
	// returns for input that is not a state written by
	// [Windows.AppendState] (truncated, altered, of an unknown version), for
	// the state of a Windows with another Assigner or AllowedLateness, and
	// when its restoreKeyState fails. The message says what is wrong and at
	// which byte; the Windows is left as it was.
	ErrInvalidState = errors.New("window: invalid state")
)
