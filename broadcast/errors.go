package broadcast

import "errors"

var (
	// ErrClosed is returned by [Hub.Publish] and [Hub.PublishRaw] once
	// [Hub.Close] has been called. [Hub.ServeHTTP] answers 503 Service
	// Unavailable instead.
	ErrClosed = errors.New("broadcast: hub closed")

	// ErrInvalidConfig is matched (with errors.Is) by every error that
	// [NewHub] and [Config.Validate] return. The message names each field
	// that is wrong and why.
	ErrInvalidConfig = errors.New("broadcast: invalid config")

	// ErrUnknownTopic is matched by the error [Hub.Publish] and
	// [Hub.PublishRaw] return for a topic other than [TopicMetrics],
	// [TopicAlerts] and [TopicEvents]; the message quotes the topic.
	ErrUnknownTopic = errors.New("broadcast: unknown topic")

	// ErrInvalidData is matched by the error [Hub.PublishRaw] returns when
	// the data is not one valid JSON value, and by the error [Hub.Publish]
	// returns when the data cannot be encoded as JSON.
	ErrInvalidData = errors.New("broadcast: invalid data")
)
