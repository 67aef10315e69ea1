package sink

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rdr-go/rdr/anomaly"
)

// SilenceStore is implemented by stores that keep silences
// (anomaly.Silence) across restarts: the [Memory] store and the [Influx]
// sink. A dashboard writes every change of a silence (made, expired) to
// it, then applies it; a starting one reads them back into its
// anomaly.Silences.
type SilenceStore interface {
	// WriteSilence stores s as it is now, replacing what was stored for
	// its ID. s must have an ID.
	WriteSilence(ctx context.Context, s anomaly.Silence) error
	// Silences returns the latest write of every stored silence, expired
	// ones included, ordered by CreatedAt (ties by ID).
	Silences(ctx context.Context) ([]anomaly.Silence, error)
}

// The rdr_silence measurement: one point per write, tagged with the
// silence's ID and timestamped when it was written; the latest point of
// an ID is the silence.
const (
	measSilence        = "rdr_silence"
	fieldMatchers      = "matchers"
	fieldSilenceStart  = "starts_at"
	fieldSilenceEnd    = "ends_at"
	fieldCreatedAt     = "created_at"
	fieldCreatedBy     = "created_by"
	fieldComment       = "comment"
	fieldAlertTags     = "tags"
	fieldAlertSilenced = "silenced_by"
)

func checkSilence(s *anomaly.Silence) error {
	if s.ID == "" {
		return fmt.Errorf("%w: ID is empty: stores keep silences by ID", anomaly.ErrInvalidSilence)
	}
	return nil
}

// WriteSilence implements [SilenceStore].
func (m *Memory) WriteSilence(ctx context.Context, s anomaly.Silence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSilence(&s); err != nil {
		return err
	}
	s.Matchers = slices.Clone(s.Matchers)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.silences == nil {
		m.silences = map[string]anomaly.Silence{}
	}
	m.silences[s.ID] = s
	return nil
}

// Silences implements [SilenceStore]. The caller owns the result.
func (m *Memory) Silences(ctx context.Context) ([]anomaly.Silence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]anomaly.Silence, 0, len(m.silences))
	for _, s := range m.silences {
		s.Matchers = slices.Clone(s.Matchers)
		out = append(out, s)
	}
	m.mu.RUnlock()
	sortSilences(out)
	return out, nil
}

func sortSilences(list []anomaly.Silence) {
	slices.SortFunc(list, func(a, b anomaly.Silence) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}

// WriteSilence implements [SilenceStore] with a point of rdr_silence (see
// the package documentation). Unlike the other writes it does not go
// through the buffer: it is sent at once, in one attempt bounded by ctx
// and RequestTimeout, and returns when InfluxDB has stored it or with
// the error, so that a silence someone makes is either stored or refused,
// never waiting behind a backlog of windows (or lost with it).
func (s *Influx) WriteSilence(ctx context.Context, sil anomaly.Silence) error {
	if err := checkSilence(&sil); err != nil {
		return err
	}
	matchers, err := json.Marshal(sil.Matchers)
	if err != nil {
		return fmt.Errorf("sink: influx silence %s: %w", sil.ID, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	// Each write a point of its own, later than the last one.
	stamp := max(s.cfg.Clock.Now().UnixNano(), s.silenceAt+1)
	s.silenceAt = stamp
	s.mu.Unlock()
	line := appendSilence(nil, &sil, matchers, stamp)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := s.writeAPI.WriteRecord(ctx, string(line)); err != nil {
		return fmt.Errorf("sink: influx silence %s: %w", sil.ID, err)
	}
	return nil
}

// Silences implements [SilenceStore] with an InfluxQL query of
// rdr_silence, keeping the latest point of each ID.
func (s *Influx) Silences(ctx context.Context) ([]anomaly.Silence, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	series, err := s.reader.query(ctx, "SELECT * FROM "+influxQLIdent(measSilence), nil)
	if err != nil {
		return nil, fmt.Errorf("sink: influx silences: %w", err)
	}
	type version struct {
		at int64
		s  anomaly.Silence
	}
	latest := map[string]version{}
	for si := range series {
		sr := &series[si]
		ti := sr.column("time")
		for _, row := range sr.Values {
			at, err := jsonInt(row, ti)
			if err != nil {
				return nil, fmt.Errorf("sink: influx silences: time: %w", err)
			}
			sil, err := silenceFromRow(sr, row)
			if err != nil {
				return nil, fmt.Errorf("sink: influx silences: %w", err)
			}
			if v, ok := latest[sil.ID]; !ok || at >= v.at {
				latest[sil.ID] = version{at, sil}
			}
		}
	}
	out := make([]anomaly.Silence, 0, len(latest))
	for _, v := range latest {
		out = append(out, v.s)
	}
	sortSilences(out)
	return out, nil
}

// appendSilence appends the rdr_silence point of one write of s.
func appendSilence(dst []byte, s *anomaly.Silence, matchers []byte, stamp int64) []byte {
	dst = append(dst, measSilence...)
	dst = appendTag(dst, tagID, s.ID)
	f := fieldWriter{b: dst, first: true}
	f.string(fieldComment, encodeField(s.Comment))
	f.int(fieldCreatedAt, unixNano(s.CreatedAt))
	f.string(fieldCreatedBy, encodeField(s.CreatedBy))
	f.int(fieldSilenceEnd, unixNano(s.EndsAt))
	f.string(fieldMatchers, string(matchers)) // JSON: control characters escaped
	f.int(fieldSilenceStart, unixNano(s.StartsAt))
	return appendTimestamp(f.b, stamp)
}

// silenceFromRow reads back what appendSilence wrote.
func silenceFromRow(sr *influxQLSeries, row []any) (anomaly.Silence, error) {
	str := func(k string) string {
		if v, ok := sr.tag(k, row); ok {
			return v
		}
		return ""
	}
	num := func(k string) (time.Time, error) {
		i := sr.column(k)
		if i < 0 || i >= len(row) || row[i] == nil {
			return time.Time{}, nil
		}
		n, err := jsonInt(row, i)
		if err != nil || n == 0 {
			return time.Time{}, err
		}
		return time.Unix(0, n).UTC(), nil
	}
	sil := anomaly.Silence{ID: decodeTag(str(tagID)), CreatedBy: decodeField(str(fieldCreatedBy)), Comment: decodeField(str(fieldComment))}
	if sil.ID == "" {
		return sil, fmt.Errorf("a point without its %s tag", tagID)
	}
	var err error
	for _, t := range []struct {
		field string
		to    *time.Time
	}{{fieldSilenceStart, &sil.StartsAt}, {fieldSilenceEnd, &sil.EndsAt}, {fieldCreatedAt, &sil.CreatedAt}} {
		if *t.to, err = num(t.field); err != nil {
			return sil, fmt.Errorf("silence %s: %s: %w", sil.ID, t.field, err)
		}
	}
	if err := json.Unmarshal([]byte(str(fieldMatchers)), &sil.Matchers); err != nil {
		return sil, fmt.Errorf("silence %s: matchers: %w", sil.ID, err)
	}
	return sil, nil
}

// fieldPlain reports whether string field v is stored as it is: valid
// UTF-8 without control characters other than newline and tab, and not
// looking like an encoded value.
func fieldPlain(v string) bool {
	if !utf8.ValidString(v) || strings.HasPrefix(v, encodedTagPrefix) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// encodeField returns the form in which string field v is stored: as it
// is, or as a tag value that line protocol cannot carry ("~b64:" and
// base64).
func encodeField(v string) string {
	if fieldPlain(v) {
		return v
	}
	return encodedTagPrefix + tagEncoding.EncodeToString([]byte(v))
}

// decodeField reverses encodeField.
func decodeField(v string) string { return decodeTag(v) }

// encodeAlertTags returns the tags field of an alert: its tags joined by
// commas, or, when that would not read back the same (a tag that is
// empty, holds a comma or is not plain, or a first tag starting with '['),
// a JSON array. No tags: "".
func encodeAlertTags(tags []string) string {
	plain := len(tags) == 0 || !strings.HasPrefix(tags[0], "[")
	for _, t := range tags {
		if t == "" || strings.Contains(t, ",") || !fieldPlain(t) {
			plain = false
			break
		}
	}
	if plain {
		return strings.Join(tags, ",")
	}
	b, _ := json.Marshal(tags) // strings always marshal
	return string(b)
}

// decodeAlertTags reverses encodeAlertTags.
func decodeAlertTags(v string) ([]string, error) {
	switch {
	case v == "":
		return nil, nil
	case strings.HasPrefix(v, "["):
		var tags []string
		err := json.Unmarshal([]byte(v), &tags)
		return tags, err
	}
	return strings.Split(v, ","), nil
}
