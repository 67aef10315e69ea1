// Package broadcast fans out live JSON messages — metrics, alerts, events —
// to many WebSocket clients, such as the rdr dashboard.
//
// Use [NewHub] to make a [Hub], mount it as an http.Handler on the route
// clients connect to, and call [Hub.Publish] (or [Hub.PublishRaw] for data
// already encoded) from the pipeline. Each message is encoded once per
// publish, however many clients receive it. A slow or stuck client never
// slows the publisher or the other clients: Publish only queues, and each
// client has its own bounded queue and writer goroutine.
//
//	hub, err := broadcast.NewHub(broadcast.Config{Token: token})
//	…
//	mux.Handle("GET /api/events/stream", hub)
//	…
//	err = hub.Publish(broadcast.TopicMetrics, snapshot)
//
// # Wire protocol
//
// The hub sends text messages, each one JSON envelope:
//
//	{"type":"metrics","ts":"2026-11-26T10:00:00.123Z","data":{…}}
//
// type is "metrics", "alert" or "event" for the topics [TopicMetrics],
// [TopicAlerts] and [TopicEvents]; ts is the server's time of the publish
// (RFC 3339, milliseconds, UTC); data is what was published. On connect
// the client first gets a hello with its id and topics:
//
//	{"type":"hello","ts":"…","data":{"id":"17","topics":["metrics","alerts"]}}
//
// A client chooses its topics with the query parameter topics
// (ws://host/stream?topics=metrics,alerts; without it, all topics; with an
// empty value, none) and can change them at any time by sending
//
//	{"type":"subscribe","topics":["events"]}
//	{"type":"unsubscribe","topics":["metrics"]}
//
// Each request is answered with {"type":"subscribed","ts":…,"data":{"topics":[…]}}
// listing all of the client's topics; every message on a newly added topic
// comes after that reply. A bad request is answered with
// {"type":"error","ts":…,"data":{"error":"unknown topic \"x\" …"}} and changes
// nothing. Requests are limited to Config.ReadLimit bytes.
//
// # Slow clients
//
// Each client has a queue of at most Config.QueueSize messages. What
// happens when it is full depends on the topic:
//
//   - metrics are coalesced: the newest metrics message waits outside the
//     queue, replacing any older one ([Stats].Coalesced), and is delivered
//     as soon as the client catches up — a lagging dashboard shows the
//     latest numbers, not stale ones.
//   - events are dropped and counted, per client and in [Stats].Dropped.
//     The next envelope delivered to that client carries a "dropped" field:
//     the number of events it has lost on this connection so far, e.g.
//     {"type":"event",…,"data":{…},"dropped":12}. The field appears only
//     when the count has grown since the client was last told.
//   - alerts are never dropped silently: a client whose queue cannot take
//     an alert is disconnected, so that it reconnects and reloads the
//     current alerts (for instance from the HTTP API).
//
// A client that stays behind — from the first message that did not fit
// until its queue next runs empty — for longer than Config.MaxLag is
// disconnected, as is one whose single write takes longer than
// Config.WriteTimeout or that does not answer a ping within
// Config.PingTimeout. These count in [Stats].DisconnectedSlow. A slow
// client's connection is cut without a close frame (browsers report code
// 1006): its socket is full, so a close frame would wait behind the
// backlog anyway. Messages delivered to a client are always in publish
// order, with gaps only where its events were dropped or its metrics
// coalesced.
//
// # Security
//
// Browsers are allowed only from the request's own host and
// Config.OriginPatterns; others get 403. With Config.Token set, a client
// must send the token as "Authorization: Bearer <token>" or, from a
// browser, as the access_token query parameter; otherwise it gets 401 and
// no data. Serve the hub over TLS (wss://) whenever a token is used.
//
// # Lifecycle
//
// A Hub starts no goroutine of its own. Each connected client has two: the
// ServeHTTP goroutine, which writes, and one reader. [Hub.Close] tells every
// client to go (queued messages are written first, within
// Config.CloseTimeout, then a close frame with status 1001) and waits until
// all of those goroutines have ended. [Hub.Stats] returns counters for
// monitoring.
package broadcast
