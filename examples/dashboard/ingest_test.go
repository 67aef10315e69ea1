package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/examples/internal/servicetest"
	"github.com/rdr-go/rdr/pipeline"
)

// metricValue reads one sample of the dashboard's /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// postRetrying posts body as a client that honours 503 + Retry-After
// would, and returns the accepted and rejected counts and how many 503s it
// met.
func postRetrying(t *testing.T, base string, body []byte) (accepted, rejected, busy int) {
	t.Helper()
	for attempt := 0; attempt < 600; attempt++ {
		resp, err := http.Post(base+"/api/events", "application/x-ndjson", strings.NewReader(string(body)))
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusServiceUnavailable:
			busy++
			after, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			require.NoError(t, err, "503 without a Retry-After: %s", raw)
			// Honour Retry-After, at a tenth of it: a test need not sleep
			// whole seconds to show that a retried body counts once.
			time.Sleep(time.Duration(after) * time.Second / 10)
			continue
		case http.StatusOK, http.StatusBadRequest:
			var r ingestReply
			require.NoError(t, json.Unmarshal(raw, &r), "%s", raw)
			return r.Accepted, r.Rejected, busy
		default:
			t.Fatalf("POST /api/events: %d %s", resp.StatusCode, raw)
		}
	}
	t.Fatal("POST /api/events: still 503 after 600 tries")
	return
}

// historyTotal is the number of events the history holds between from and
// to, all partitions.
func historyTotal(t *testing.T, base string, from, to time.Time) float64 {
	t.Helper()
	q := fmt.Sprintf("%s/api/history?metric=events&start=%s&stop=%s&interval=24h", base, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	code, h := do(t, http.MethodGet, q, "")
	require.Equal(t, http.StatusOK, code, "%v", h)
	var total float64
	series, _ := h["series"].([]any)
	for _, s := range series {
		points, _ := s.(map[string]any)["points"].([]any)
		for _, p := range points {
			v, _ := p.(map[string]any)["v"].(float64)
			total += v
		}
	}
	return total
}

// A two-hour log of about 133k events, sorted by time and stamped in the
// past, posted to the embedded dashboard in 5,000-line chunks back to
// back, into a queue that holds only about two chunks: every event is
// applied, none is late, and the history holds them all. (Before the
// ordered queue, 15–25k of them went late: a later chunk overtook an
// earlier one.) Whatever answered 503 was posted again after Retry-After.
//
// The dashboard's default idle timeout (5 s), not the tests' 300 ms: were
// the queue empty for 300 ms while the server reads and decodes the next
// chunk, the input would count as idle, event time would take the wall
// clock and the rest of a log three hours old would be late, as documented
// (README, Backfill: a live dashboard makes yesterday late). That is the
// likely cause of a CI run's 113,200 of 133,200 late, under -race on a busy
// machine; it was not reproduced (one run beside two CPU hogs passed).
func TestBackfillPostedBackToBackLosesNothing(t *testing.T) {
	base := server(t, func(o *options) {
		o.maxBody, o.queueBytes, o.memWindows = 1<<20, 1536<<10, 8000
		o.idleTimeout = 5 * time.Second
	})
	const events, chunk = 133_200, 5000
	span := 2 * time.Hour
	from := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	types := []string{"login_success", "file_access", "logout", "privilege_change"}
	var lines []string
	for i := range events {
		at := from.Add(time.Duration(i) * span / events)
		lines = append(lines, ev(types[i%len(types)], fmt.Sprintf("user-%d", i%97), at))
	}
	accepted, busy := 0, 0
	for i := 0; i < events; i += chunk {
		a, r, b := postRetrying(t, base, []byte(strings.Join(lines[i:min(i+chunk, events)], "\n")+"\n"))
		require.Zero(t, r)
		accepted += a
		busy += b
	}
	t.Logf("%d events posted in %d chunks, %d answers 503", accepted, (events+chunk-1)/chunk, busy)
	require.Equal(t, events, accepted)
	waitFor(t, func() bool {
		return metricValue(t, base, "rdr_events_in_total")+metricValue(t, base, "rdr_events_late_total") == events
	})
	assert.Zero(t, metricValue(t, base, "rdr_events_late_total"), "late")
	assert.Equal(t, float64(events), metricValue(t, base, "rdr_events_in_total"))
	// The last window fires once the queue is empty and the input idle.
	waitFor(t, func() bool { return historyTotal(t, base, from, from.Add(span+time.Minute)) == events })
}

// POST /api/events answers 503 with Retry-After when the input queue is
// full, and then accepts nothing: not the events, not the dead letters.
func TestPostEventsAnswers503WhenTheQueueIsFull(t *testing.T) {
	q, err := pipeline.NewQueue(pipeline.QueueConfig{MaxBytes: 400})
	require.NoError(t, err)
	defer q.Close() // nobody subscribes: the queue only fills
	dec, err := rdr.NewDecoder(rdr.DecoderConfig{})
	require.NoError(t, err)
	side, err := pipeline.NewSideLog(pipeline.SideLogConfig{Topics: []string{"in.dlq", "in.late"}})
	require.NoError(t, err)
	a := &api{dec: dec, side: side, topic: "in", dlqTopic: "in.dlq", lateTopic: "in.late", partitions: 1, maxBody: 1 << 20,
		input: func(_ context.Context, _ bool, msgs ...*message.Message) error { return q.TryPublish("in", msgs...) }}
	mux := http.NewServeMux()
	a.routes(mux)
	post := func(body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, "/api/events", strings.NewReader(body))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Result()
	}
	now := time.Now().UTC()
	body := ev("login_success", "alice", now) + "\n" + `{"bad":1}` + "\n" + ev("logout", "alice", now)
	resp := post(body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp = post(body)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	raw, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(raw), "the input queue is full")
	assert.Equal(t, 1, q.Stats().Messages, "the second body was not queued")
	assert.Equal(t, uint64(1), side.Total("in.dlq"), "nor its dead letter recorded")
	assert.Equal(t, uint64(2), a.accepted.Load())
}

// invariantStream is a random stream of security events as a test sends
// it: valid ones (in order, give or take a few seconds), invalid ones,
// ones far too late for their windows, and brute-force attacks, one of
// them delivered an hour late.
type invariantStream struct {
	lines            []string
	valid, invalid   int
	late             int      // valid, far too late for their windows
	attackers        []string // each must be alerted on
	start, end       time.Time
	maxDisplacedTime time.Duration
}

func newInvariantStream(seed uint64, n int, start time.Time, span time.Duration) invariantStream {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := invariantStream{start: start, end: start.Add(span)}
	at := func(i int) time.Time { return start.Add(time.Duration(i) * span / time.Duration(n)) }
	attackAt := map[int]int{n / 5: 0, n / 2: 1, 4 * n / 5: 2} // position -> attack
	for i := range n {
		if k, ok := attackAt[i]; ok {
			user := fmt.Sprintf("attacker-%d-%d", seed, k)
			s.attackers = append(s.attackers, user)
			base := at(i)
			late := k == 2 // the last one arrives an hour late
			if late {
				base = base.Add(-time.Hour)
			}
			for j := range 6 {
				s.lines = append(s.lines, ev("login_failed", user, base.Add(time.Duration(j)*time.Second)))
				s.valid++
				if late {
					s.late++
				}
			}
		}
		switch r := rng.IntN(100); {
		case r < 5:
			s.lines = append(s.lines, fmt.Sprintf(`{"timestamp":%q,"eventType":"login_success","userId":"u%d","severity":"urgent"}`, at(i).Format(time.RFC3339Nano), i))
			s.invalid++
		case r < 6 && i > 2000: // by then every partition has a watermark
			s.lines = append(s.lines, ev("file_access", fmt.Sprintf("user-%d", rng.IntN(200)), at(i).Add(-time.Hour)))
			s.valid++
			s.late++
		default:
			jitter := time.Duration(rng.Int64N(int64(5*time.Second))) - 5*time.Second/2
			typ := []string{"login_success", "file_access", "logout", "login_failed"}[rng.IntN(4)]
			s.lines = append(s.lines, ev(typ, fmt.Sprintf("user-%d", rng.IntN(200)), at(i).Add(jitter)))
			s.valid++
		}
	}
	return s
}

// sendConcurrently posts the stream in random chunks of 1–300 lines from
// clients concurrent clients; chunk k is not sent before every chunk up to
// k-clients is answered, so no chunk is overtaken by more than clients-1
// others (at most 900 events, 81 s of this stream's event time: within
// the 2-minute out-of-orderness the tests set).
func sendConcurrently(t *testing.T, base string, s invariantStream, clients int, seed uint64) (accepted, rejected int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	var chunks [][]string
	for i := 0; i < len(s.lines); {
		n := 1 + rng.IntN(300)
		chunks = append(chunks, s.lines[i:min(i+n, len(s.lines))])
		i += n
	}
	done := make([]chan struct{}, len(chunks))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var next atomic.Int64
	var acc, rej atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(chunks) {
					return
				}
				for j := 0; j <= k-clients; j++ { // every chunk before k-clients+1 answered
					<-done[j]
				}
				a, r, _ := postRetrying(t, base, []byte(strings.Join(chunks[k], "\n")))
				acc.Add(int64(a))
				rej.Add(int64(r))
				close(done[k])
			}
		})
	}
	wg.Wait()
	return int(acc.Load()), int(rej.Load())
}

// waitUntil waits at most d for cond, and says what what says if not.
func waitUntil(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not in %s: %s", d, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkInvariant: sent = in windows + late + invalid, exactly, each part
// as expected, and every attack alerted, the late one too.
func checkInvariant(t *testing.T, base string, s invariantStream, accepted, rejected int) {
	t.Helper()
	require.Equal(t, s.valid, accepted, "accepted")
	require.Equal(t, s.invalid, rejected, "rejected")
	inWindows := s.valid - s.late
	waitUntil(t, time.Minute, func() bool {
		return metricValue(t, base, "rdr_events_in_total")+metricValue(t, base, "rdr_events_late_total") == float64(s.valid)
	}, func() string {
		return fmt.Sprintf("applied %v in windows + %v late of %d valid", metricValue(t, base, "rdr_events_in_total"), metricValue(t, base, "rdr_events_late_total"), s.valid)
	})
	if !assert.Equal(t, float64(s.late), metricValue(t, base, "rdr_events_late_total"), "late") {
		_, l := do(t, http.MethodGet, base+"/api/late?limit=1000", "")
		items, _ := l["items"].([]any)
		for i := 0; i < len(items); i += 40 {
			it := items[i].(map[string]any)
			t.Logf("late #%d: %v %v", i, it["reason"], it["offset"])
		}
	}
	assert.Equal(t, float64(inWindows), metricValue(t, base, "rdr_events_in_total"), "in windows")
	waitUntil(t, time.Minute, func() bool {
		return historyTotal(t, base, s.start.Add(-time.Minute), s.end.Add(time.Minute)) == float64(inWindows)
	}, func() string {
		return fmt.Sprintf("history holds %v of %d; watermark %v", historyTotal(t, base, s.start.Add(-time.Minute), s.end.Add(time.Minute)), inWindows, metricValue(t, base, "rdr_watermark_seconds"))
	})
	_, health := do(t, http.MethodGet, base+"/api/health", "")
	assert.Equal(t, float64(s.invalid), health["deadLetters"], "dead letters kept and counted")
	assert.Equal(t, float64(s.late), health["late"], "late events kept and counted")
	_, dl := do(t, http.MethodGet, base+"/api/deadletters?limit=1", "")
	items, _ := dl["items"].([]any)
	require.Len(t, items, 1)
	assert.Contains(t, items[0].(map[string]any)["reason"], `severity: "urgent"`)
	assert.Contains(t, items[0].(map[string]any)["raw"], `"severity":"urgent"`)
	for _, user := range s.attackers {
		waitFor(t, func() bool {
			_, a := do(t, http.MethodGet, base+"/api/alerts?key="+user, "")
			alerts, _ := a["alerts"].([]any)
			for _, al := range alerts {
				if al.(map[string]any)["rule"] == "failed-login-burst" {
					return true
				}
			}
			return false
		})
	}
	t.Logf("sent %d = %d in windows + %d late + %d invalid; %d attacks alerted", s.valid+s.invalid, inWindows, s.late, s.invalid, len(s.attackers))
}

// The invariant, embedded: a random stream posted in random chunks by
// four concurrent clients.
func TestInvariantEmbedded(t *testing.T) {
	base := server(t, func(o *options) {
		o.maxBody, o.outOfOrder, o.memWindows = 1<<20, 2*time.Minute, 20000
	})
	s := newInvariantStream(11, 20000, time.Now().Add(-40*time.Minute).Truncate(time.Second), 30*time.Minute)
	accepted, rejected := sendConcurrently(t, base, s, 4, 11)
	checkInvariant(t, base, s, accepted, rejected)
}

// The invariant on real Kafka, with checkpoints and the repartition topic:
// the same kind of stream, posted the same way, into a 6-partition topic.
// The late brute force goes through Kafka too. Needs RDR_KAFKA_BROKERS.
func TestInvariantKafka(t *testing.T) {
	brokers := os.Getenv("RDR_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip(`RDR_KAFKA_BROKERS not set: run scripts/services.sh start kafka; eval "$(scripts/services.sh env)"`)
	}
	topic := fmt.Sprintf("rdr-inv-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	kc := pipeline.KafkaConfig{Brokers: strings.Split(brokers, ",")}
	require.NoError(t, pipeline.CreateTopic(kc, topic, 6))
	for _, side := range []string{".dlq", ".late", ".partials"} {
		require.NoError(t, pipeline.CreateTopic(kc, topic+side, 1))
	}
	base := server(t, func(o *options) {
		o.kafkaBrokers, o.kafkaGroup, o.topic, o.partialsTopic, o.instance = brokers, topic, topic, topic+".partials", "inv"
		o.checkpoints = topic + ".checkpoints"
		o.maxBody, o.outOfOrder, o.memWindows = 1<<20, 2*time.Minute, 20000*6
		// The stream is an hour old: a partition idle for the default 5 s
		// (its clients stalled on a loaded machine) lets the watermark
		// follow the clock, as documented — most likely why, once, under
		// -race beside the generator's tests, the last 1,100 events of one
		// partition went late. The invariant is about what is accepted,
		// not about stalls; 20 s still fires the last windows well inside
		// checkInvariant's minute (1 min did not, in CI).
		o.idleTimeout = 20 * time.Second
	})
	servicetest.WaitAssigned(t, kc.Brokers, topic, topic, 1)
	s := newInvariantStream(12, 20000, time.Now().Add(-40*time.Minute).Truncate(time.Second), 30*time.Minute)
	accepted, rejected := sendConcurrently(t, base, s, 4, 12)
	checkInvariant(t, base, s, accepted, rejected)
}

// A queue smaller than the largest body would answer such a body 503 for
// ever: the dashboard refuses to start with one.
func TestQueueSmallerThanTheBodyLimitIsRefused(t *testing.T) {
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-generate=false", "-max-body", "2048", "-queue-bytes", "1024"})
	require.NoError(t, err)
	o.kafkaBrokers, o.influxURL, o.token = "", "", ""
	err = run(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.EqualError(t, err, "-queue-bytes (1024) must be at least -max-body (2048)")
}
