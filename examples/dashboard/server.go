package main

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
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

// tokenCookie is the cookie POST /api/login sets: the browser then sends
// the token with every request and the WebSocket handshake, and it never
// appears in a URL (where it would be logged, kept in history and sent in
// Referer headers).
const tokenCookie = "rdr_token"

// withToken guards /api/* with the token, given as "Authorization: Bearer
// …" or in the tokenCookie cookie. POST /api/login is open: it is where a
// browser exchanges the token for the cookie. The WebSocket also takes
// ?access_token= (the hub checks it) for clients that can set neither.
func withToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte(token)
	matches := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api/login" {
			next.ServeHTTP(w, r)
			return
		}
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ok := r.Header.Get("Authorization") != "" && matches(bearer)
		if c, err := r.Cookie(tokenCookie); !ok && err == nil && matches(c.Value) {
			ok = true
			r.Header.Set("Authorization", "Bearer "+token) // for the hub's own check
		}
		if !ok && r.URL.Path == "/api/events/stream" && r.URL.Query().Has("access_token") {
			ok = true // the hub checks it
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rdr"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// login handles POST /api/login {"token": "…"}: with the right token it sets
// the token cookie (HttpOnly, SameSite=Strict, Secure over TLS) and answers
// 204; with a wrong one 401. DELETE /api/login clears the cookie.
func login(token string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var body struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, `body: want {"token": "…"}`)
			return
		}
		if token == "" {
			w.WriteHeader(http.StatusNoContent) // nothing to guard
			return
		}
		if subtle.ConstantTimeCompare([]byte(body.Token), []byte(token)) != 1 {
			writeError(w, http.StatusUnauthorized, "wrong token")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	}
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
