package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
)

// maxSilenceBody bounds a POST /api/silences body.
const maxSilenceBody = 64 << 10

// defaultSilenceRefresh is how often a dashboard with a durable store
// reads the silences back from it, so that silences made or expired
// through another dashboard of the group apply to its partitions too.
const defaultSilenceRefresh = 10 * time.Second

// silences is what the API shows of silences and how it changes them: set
// is the anomaly.Silences the processor applies; durable, when set
// (InfluxDB), keeps them across restarts and is written first.
type silences struct {
	set     *anomaly.Silences
	durable sink.SilenceStore // nil: the process only
	clock   rdr.Clock
	// mu orders the changes: each is written to durable and applied
	// before the next, so the store and the set agree on the latest.
	mu sync.Mutex
}

// silenceView is a silence as the API shows it: with its state now.
type silenceView struct {
	anomaly.Silence
	State string `json:"state"`
}

func (s *silences) view(sil anomaly.Silence) silenceView {
	return silenceView{Silence: sil, State: sil.State(s.clock.Now())}
}

func (s *silences) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/silences", s.list)
	mux.HandleFunc("POST /api/silences", s.create)
	mux.HandleFunc("DELETE /api/silences/{id}", s.expire)
}

// load reads the silences of before a restart from the durable store. A
// stored silence that does not validate is logged and left out.
func (s *silences) load(ctx context.Context, logger *slog.Logger) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, err := s.durable.Silences(ctx)
	if err != nil {
		return err
	}
	if err := s.set.Restore(stored); err != nil {
		logger.Warn("stored silences left out", "err", err)
	}
	return nil
}

// refresh loads the durable store's silences every interval until ctx
// ends: another dashboard's changes reach this one's processor within it.
func (s *silences) refresh(ctx context.Context, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		if err := s.load(rctx, logger); err != nil && ctx.Err() == nil {
			logger.Warn("could not read the silences from the store", "err", err)
		}
		cancel()
	}
}

// apply writes sil to the durable store, then applies it. s.mu must be
// held.
func (s *silences) apply(ctx context.Context, sil anomaly.Silence) error {
	if s.durable != nil {
		if err := s.durable.WriteSilence(ctx, sil); err != nil {
			return err
		}
	}
	return s.set.Restore([]anomaly.Silence{sil})
}

// list serves GET /api/silences: every silence, active ones first (see
// anomaly.Silences.List).
func (s *silences) list(w http.ResponseWriter, _ *http.Request) {
	now := s.clock.Now()
	out := []silenceView{}
	for _, sil := range s.set.List(now) {
		out = append(out, silenceView{Silence: sil, State: sil.State(now)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": out})
}

// silenceMatcher is a matcher in a POST body: an object
// {"name":"rule","op":"=","value":"new-login-ip"} or its text form
// "rule=\"new-login-ip\"".
type silenceMatcher struct{ anomaly.SilenceMatcher }

func (m *silenceMatcher) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var text string
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
		parsed, err := anomaly.ParseSilenceMatcher(text)
		m.SilenceMatcher = parsed
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&m.SilenceMatcher)
}

// silenceRequest is the body of POST /api/silences.
type silenceRequest struct {
	Matchers  []silenceMatcher `json:"matchers"`
	StartsAt  string           `json:"startsAt"` // RFC 3339; default now
	EndsAt    string           `json:"endsAt"`   // RFC 3339; or Duration
	Duration  string           `json:"duration"` // "2h", "1d"; or EndsAt
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

// silence makes the silence r asks for, at now.
func (r *silenceRequest) silence(now time.Time) (anomaly.Silence, error) {
	sil := anomaly.Silence{StartsAt: now, CreatedBy: r.CreatedBy, Comment: r.Comment, Matchers: []anomaly.SilenceMatcher{}}
	for _, m := range r.Matchers {
		sil.Matchers = append(sil.Matchers, m.SilenceMatcher)
	}
	if r.StartsAt != "" {
		t, err := time.Parse(time.RFC3339Nano, r.StartsAt)
		if err != nil {
			return sil, fmt.Errorf("startsAt: %q is not an RFC 3339 time", r.StartsAt)
		}
		sil.StartsAt = t
	}
	switch {
	case r.EndsAt != "" && r.Duration != "":
		return sil, errors.New("endsAt and duration: give one of them, not both")
	case r.EndsAt != "":
		t, err := time.Parse(time.RFC3339Nano, r.EndsAt)
		if err != nil {
			return sil, fmt.Errorf("endsAt: %q is not an RFC 3339 time", r.EndsAt)
		}
		sil.EndsAt = t
	case r.Duration != "":
		d, err := rdr.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			return sil, fmt.Errorf("duration: %q is not a positive duration like 30m, 2h or 1d", r.Duration)
		}
		sil.EndsAt = sil.StartsAt.Add(d)
	default:
		return sil, errors.New("endsAt or duration is required: say when the silence ends")
	}
	return sil, nil
}

// create serves POST /api/silences: 201 with the silence; 400 naming what
// is wrong with the body; 503 when the durable store did not take it (the
// silence is then not applied either).
func (s *silences) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSilenceBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than the limit of %d bytes", maxSilenceBody))
			return
		}
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req silenceRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	now := s.clock.Now()
	sil, err := req.silence(now)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Added to a set of its own, the silence is validated and gets its ID
	// and CreatedAt without being applied: it is stored first.
	if sil, err = new(anomaly.Silences).Add(sil, now); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.apply(r.Context(), sil); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not silenced: storing the silence failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"silence": s.view(sil)})
}

// expire serves DELETE /api/silences/{id}: the silence ends now (one that
// has ended already is left as it is); 200 with it, 404 for an unknown id,
// 503 when the durable store did not take the change.
func (s *silences) expire(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.set.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no silence with id %q", id))
		return
	}
	now := s.clock.Now()
	if cur.State(now) == anomaly.SilenceExpired {
		writeJSON(w, http.StatusOK, map[string]any{"silence": s.view(cur)})
		return
	}
	// Expired in a set of its own first: what is stored is what applies.
	scratch := new(anomaly.Silences)
	if err := scratch.Restore([]anomaly.Silence{cur}); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ended, err := scratch.Expire(id, now)
	if err == nil {
		err = s.apply(r.Context(), ended)
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "not expired: storing the change failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"silence": s.view(ended)})
}

// silencedFilter reads GET /api/alerts' ?silenced=: "true" keeps the
// alerts a silence matched at their latest emission, "false" the others,
// "" all.
func silencedFilter(v string) (func(*anomaly.Alert) bool, error) {
	if v == "" {
		return nil, nil
	}
	want, err := strconv.ParseBool(v)
	if err != nil {
		return nil, fmt.Errorf("silenced: %q is not true or false", v)
	}
	return func(a *anomaly.Alert) bool { return (a.SilencedBy != "") == want }, nil
}
