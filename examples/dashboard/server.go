package main

import (
	"crypto/subtle"
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rdr-go/rdr/broadcast"
)

//go:embed all:web/dist
var webDist embed.FS

// staticHandler serves the built React app.
func staticHandler() http.Handler {
	dist, err := fs.Sub(webDist, "web/dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// withToken guards /api/* (but not the WebSocket, which the hub guards
// itself, nor the page and health checks) with the bearer token.
func withToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/api/events/stream" {
			got := []byte(r.Header.Get("Authorization"))
			if subtle.ConstantTimeCompare(got, want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="rdr"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func registerHubMetrics(reg prometheus.Registerer, hub *broadcast.Hub) {
	gauge := func(name, help string, v func(broadcast.Stats) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rdr", Subsystem: "ws", Name: name, Help: help},
			func() float64 { return v(hub.Stats()) }))
	}
	counter := func(name, help string, v func(broadcast.Stats) float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rdr", Subsystem: "ws", Name: name, Help: help},
			func() float64 { return v(hub.Stats()) }))
	}
	gauge("clients", "WebSocket clients connected.", func(s broadcast.Stats) float64 { return float64(s.Clients) })
	counter("published_total", "Messages published to the hub.", func(s broadcast.Stats) float64 { return float64(s.Published) })
	counter("delivered_total", "Messages delivered to clients.", func(s broadcast.Stats) float64 { return float64(s.Delivered) })
	counter("dropped_total", "Event messages dropped for slow clients.", func(s broadcast.Stats) float64 { return float64(s.Dropped) })
	counter("disconnected_slow_total", "Clients disconnected for lagging.", func(s broadcast.Stats) float64 { return float64(s.DisconnectedSlow) })
}

func registerAPIMetrics(reg prometheus.Registerer, a *api) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rdr", Subsystem: "http", Name: "events_accepted_total",
			Help: "Events accepted by POST /api/events."}, func() float64 { return float64(a.accepted.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rdr", Subsystem: "http", Name: "events_rejected_total",
			Help: "Events refused by POST /api/events (listed in the reply, sent to the dead-letter topic)."}, func() float64 { return float64(a.rejected.Load()) }),
	)
}
