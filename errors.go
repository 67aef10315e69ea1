package rdr

import (
	"errors"
	"fmt"
)

// ErrInvalidEvent is matched (with errors.Is) by every error the decoder
// returns for input that is not a valid event: malformed JSON, a missing or
// wrong field, a value outside the limits. The concrete error is an
// [*InvalidEventError] carrying the field and the reason.
var ErrInvalidEvent = errors.New("rdr: invalid event")

// InvalidEventError says which field of an event is wrong and why. Field is
// the wire name ("timestamp", "userId", "metadata", …); it is empty when the
// input as a whole is wrong (malformed JSON, too large, not an object).
type InvalidEventError struct {
	Field  string
	Reason string
}

func (e *InvalidEventError) Error() string {
	if e.Field == "" {
		return "rdr: invalid event: " + e.Reason
	}
	return "rdr: invalid event: field " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidEvent, so errors.Is(err, ErrInvalidEvent) holds.
func (e *InvalidEventError) Unwrap() error { return ErrInvalidEvent }

// ItemError is the error for one item of a batch (a JSON array or NDJSON):
// Index is the item's position, counting from 0, and Err says what is wrong
// with it (usually an [*InvalidEventError]). Raw is the item's own bytes as
// they arrived, for a dead-letter output; it aliases the decoder's input, so
// copy it to keep it past the input's lifetime. Where reading stopped at
// malformed JSON, Raw is the rest of the input from that item on.
type ItemError struct {
	Index int
	Err   error
	Raw   []byte
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error.
func (e *ItemError) Unwrap() error { return e.Err }
