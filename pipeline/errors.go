package pipeline

import "errors"

// The errors of package pipeline. Each is matched with errors.Is; the
// error returned wraps it with what went wrong.
var (
	// ErrInvalidConfig is wrapped by the errors of New, NewGlobalView,
	// NewKafkaSubscriber and the other constructors for settings that
	// cannot work, naming the setting.
	ErrInvalidConfig = errors.New("pipeline: invalid config")

	// ErrStarted is returned by a second Processor.Run or
	// KafkaSubscriber.Subscribe: each may be called once.
	ErrStarted = errors.New("pipeline: already started")

	// ErrClosed is returned by a KafkaSubscriber's Subscribe after Close.
	ErrClosed = errors.New("pipeline: closed")

	// ErrShuttingDown is what the processor's handler returns for a
	// message that arrives while it stops: the message is not applied
	// and not acknowledged, so it is delivered again (to the next owner,
	// or after a restart). The error returned matches context.Canceled
	// too, so that Watermill's router does not log it as a failure.
	ErrShuttingDown = errors.New("pipeline: shutting down")

	// ErrNotAssigned is returned by [KafkaSubscriber.Commit] for a
	// partition the subscriber does not hold (any more).
	ErrNotAssigned = errors.New("pipeline: partition not assigned")

	// ErrInvalidCheckpoint wraps errors restoring a checkpoint that was
	// not written by this version of the processor, or is damaged.
	ErrInvalidCheckpoint = errors.New("pipeline: invalid checkpoint")

	// ErrQueueFull is returned by [Queue.TryPublish] when the messages do
	// not fit in what the queue has room for now: try again later.
	ErrQueueFull = errors.New("pipeline: queue full")

	// ErrQueueClosed is returned by a Queue's methods after Close.
	ErrQueueClosed = errors.New("pipeline: queue closed")
)
