package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/examples/internal/servicetest"
)

// silenceBody is a POST /api/silences body for rule, with its tag matcher
// in the text form.
func silenceBody(rule string) string {
	return `{"matchers":[{"name":"rule","op":"=","value":"` + rule + `"},"tag=~\"attack\\\\.t1110.*\""],` +
		`"duration":"2h","createdBy":"alice","comment":"pen test of the VPN"}`
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err, "%v", v)
	return at
}

func TestSilencesAPI(t *testing.T) {
	base := server(t, nil)
	status, body := do(t, http.MethodGet, base+"/api/silences", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"silences": []any{}}, body)

	before := time.Now().UTC()
	status, body = do(t, http.MethodPost, base+"/api/silences", silenceBody("failed-login-burst"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	made := body["silence"].(map[string]any)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{16}$`), made["id"])
	assert.Equal(t, "active", made["state"])
	assert.Equal(t, []any{
		map[string]any{"name": "rule", "op": "=", "value": "failed-login-burst"},
		map[string]any{"name": "tag", "op": "=~", "value": `attack\.t1110.*`},
	}, made["matchers"], "the text form is read as amtool reads it")
	assert.Equal(t, "alice", made["createdBy"])
	assert.Equal(t, "pen test of the VPN", made["comment"])
	starts, ends, created := mustTime(t, made["startsAt"]), mustTime(t, made["endsAt"]), mustTime(t, made["createdAt"])
	assert.Equal(t, starts, created, "starts now by default")
	assert.False(t, starts.Before(before.Truncate(time.Second)))
	assert.Equal(t, 2*time.Hour, ends.Sub(starts))

	later := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	status, body = do(t, http.MethodPost, base+"/api/silences",
		`{"matchers":["key=\"bob\""],"startsAt":"`+later.Format(time.RFC3339)+`","endsAt":"`+later.Add(time.Hour).Format(time.RFC3339)+`","createdBy":"bob","comment":"maintenance"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	pending := body["silence"].(map[string]any)
	assert.Equal(t, "pending", pending["state"])
	assert.Equal(t, later, mustTime(t, pending["startsAt"]))

	_, body = do(t, http.MethodGet, base+"/api/silences", "")
	list := body["silences"].([]any)
	require.Len(t, list, 2)
	assert.Equal(t, []any{made["id"], pending["id"]}, []any{list[0].(map[string]any)["id"], list[1].(map[string]any)["id"]}, "active first")
	assert.Equal(t, made, list[0])

	// DELETE expires it now; again, it stays as it is.
	status, body = do(t, http.MethodDelete, base+"/api/silences/"+made["id"].(string), "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	expired := body["silence"].(map[string]any)
	assert.Equal(t, "expired", expired["state"])
	assert.Equal(t, made["startsAt"], expired["startsAt"])
	assert.True(t, mustTime(t, expired["endsAt"]).Before(ends))
	status, body = do(t, http.MethodDelete, base+"/api/silences/"+made["id"].(string), "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, expired, body["silence"])
	// A pending one expires before it starts.
	status, body = do(t, http.MethodDelete, base+"/api/silences/"+pending["id"].(string), "")
	require.Equal(t, http.StatusOK, status)
	p := body["silence"].(map[string]any)
	assert.Equal(t, "expired", p["state"])
	assert.Equal(t, p["startsAt"], p["endsAt"])

	_, body = do(t, http.MethodGet, base+"/api/silences", "")
	var states []any
	for _, s := range body["silences"].([]any) {
		states = append(states, s.(map[string]any)["state"])
	}
	assert.Equal(t, []any{"expired", "expired"}, states)

	status, body = do(t, http.MethodDelete, base+"/api/silences/nope", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, map[string]any{"error": `no silence with id "nope"`}, body)
}

func TestSilencesAPIRefusesBadInput(t *testing.T) {
	base := server(t, nil)
	const tail = `"duration":"1h","createdBy":"alice","comment":"why"`
	const rule = `"matchers":[{"name":"rule","op":"=","value":"x"}],`
	for _, tt := range []struct{ name, body, want string }{
		{"not JSON", `{`, "body: unexpected EOF"},
		{"unknown field", `{"matcher":[],` + tail + `}`, `body: json: unknown field "matcher"`},
		{"unknown matcher field", `{"matchers":[{"name":"rule","op":"=","value":"x","regex":true}],` + tail + `}`, `body: json: unknown field "regex"`},
		{"no matchers", `{` + tail + `}`, "anomaly: invalid silence: matchers: at least one is required"},
		{"unknown name", `{"matchers":[{"name":"user","op":"=","value":"x"}],` + tail + `}`,
			`anomaly: invalid silence: matchers[0].name: unknown name "user" (want rule, key, groupBy, severity or tag)`},
		{"unknown op", `{"matchers":[{"name":"rule","op":"~=","value":"x"}],` + tail + `}`,
			`anomaly: invalid silence: matchers[0].op: unknown op "~=" (want =, !=, =~ or !~)`},
		{"bad regexp", `{"matchers":[{"name":"rule","op":"=~","value":"("}],` + tail + `}`,
			"anomaly: invalid silence: matchers[0].value: bad regular expression \"(\": error parsing regexp: missing closing ): `(`"},
		{"bad text matcher", `{"matchers":["rule"],` + tail + `}`,
			`body: anomaly: invalid silence: matcher: "rule": no operator after "rule" (want =, !=, =~ or !~)`},
		{"negative only", `{"matchers":["rule!=\"x\""],` + tail + `}`,
			`anomaly: invalid silence: matchers: at least one must not match the empty string, as Alertmanager requires (negative matchers and ones like rule=~".*" alone would silence almost every alert)`},
		{"no end", `{` + rule + `"createdBy":"alice","comment":"why"}`, "endsAt or duration is required: say when the silence ends"},
		{"end and duration", `{` + rule + `"endsAt":"2030-01-01T00:00:00Z",` + tail + `}`, "endsAt and duration: give one of them, not both"},
		{"bad duration", `{` + rule + `"duration":"forever","createdBy":"alice","comment":"why"}`, `duration: "forever" is not a positive duration like 30m, 2h or 1d`},
		{"negative duration", `{` + rule + `"duration":"-1h","createdBy":"alice","comment":"why"}`, `duration: "-1h" is not a positive duration like 30m, 2h or 1d`},
		{"bad start", `{` + rule + `"startsAt":"now",` + tail + `}`, `startsAt: "now" is not an RFC 3339 time`},
		{"bad end", `{` + rule + `"endsAt":"tomorrow","createdBy":"alice","comment":"why"}`, `endsAt: "tomorrow" is not an RFC 3339 time`},
		{"end before start", `{` + rule + `"startsAt":"2030-01-01T00:00:00Z","endsAt":"2029-01-01T00:00:00Z","createdBy":"alice","comment":"why"}`,
			"anomaly: invalid silence: endsAt: must be after startsAt, got startsAt 2030-01-01T00:00:00Z and endsAt 2029-01-01T00:00:00Z"},
		{"no author", `{` + rule + `"duration":"1h","comment":"why"}`, "anomaly: invalid silence: createdBy: is required: say who made the silence"},
		{"no comment", `{` + rule + `"duration":"1h","createdBy":"alice","comment":"  "}`, "anomaly: invalid silence: comment: is required: say why the alerts are silenced"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, http.MethodPost, base+"/api/silences", tt.body)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, map[string]any{"error": tt.want}, body)
		})
	}
	// An end in the past: the message names both times, which depend on now.
	status, body := do(t, http.MethodPost, base+"/api/silences", `{`+rule+`"startsAt":"2020-01-01T00:00:00Z","endsAt":"2020-01-02T00:00:00Z","createdBy":"a","comment":"b"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["error"], "anomaly: invalid silence: endsAt: 2020-01-02T00:00:00Z is not in the future (now is ")

	_, body = do(t, http.MethodGet, base+"/api/silences", "")
	assert.Equal(t, map[string]any{"silences": []any{}}, body, "nothing was added")
	status, body = do(t, http.MethodGet, base+"/api/alerts?silenced=maybe", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, map[string]any{"error": `silenced: "maybe" is not true or false`}, body)
}

func TestSilencesNeedTheToken(t *testing.T) {
	base := server(t, func(o *options) { o.token = "s3cret" })
	for _, req := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/silences", ""},
		{http.MethodPost, "/api/silences", silenceBody("critical-event")},
		{http.MethodDelete, "/api/silences/x", ""},
	} {
		status, body := do(t, req.method, base+req.path, req.body)
		assert.Equal(t, http.StatusUnauthorized, status, "%s %s", req.method, req.path)
		assert.Equal(t, "missing or wrong bearer token", body["error"])
	}
	_, body := do(t, http.MethodGet, base+"/api/silences", "", "Authorization", "Bearer s3cret")
	assert.Equal(t, map[string]any{"silences": []any{}}, body, "the unauthorized POST added nothing")
	status, _ := do(t, http.MethodPost, base+"/api/silences", silenceBody("critical-event"), "Authorization", "Bearer s3cret")
	assert.Equal(t, http.StatusCreated, status)
	status, _ = do(t, http.MethodGet, base+"/api/silences", "", "Cookie", "rdr_token=s3cret")
	assert.Equal(t, http.StatusOK, status)
}

// liveAlerts collects the alerts the dashboard's WebSocket sends.
func liveAlerts(t *testing.T, base string) <-chan map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/events/stream?topics=alerts", nil)
	require.NoError(t, err)
	ch := make(chan map[string]any, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var env struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			if json.Unmarshal(msg, &env) == nil && env.Type == "alert" {
				ch <- env.Data
			}
		}
	}()
	t.Cleanup(func() { cancel(); conn.CloseNow(); <-done })
	return ch
}

// nextLive returns the live alerts up to the first of rule and key.
func nextLive(t *testing.T, ch <-chan map[string]any, rule, key string) []map[string]any {
	t.Helper()
	var seen []map[string]any
	timeout := time.After(15 * time.Second)
	for {
		select {
		case a := <-ch:
			seen = append(seen, a)
			if a["rule"] == rule && a["key"] == key {
				return seen
			}
		case <-timeout:
			t.Fatalf("no live alert of %s for %s in 15 s; saw %v", rule, key, seen)
		}
	}
}

func failedLogins(user string, n int) string {
	now := time.Now().UTC()
	var lines []string
	for i := range n {
		lines = append(lines, ev("login_failed", user, now.Add(time.Duration(i)*time.Millisecond)))
	}
	return strings.Join(lines, "\n")
}

func criticalEvent(user string) string {
	return string(rdr.AppendJSON(nil, rdr.Event{Time: time.Now().UTC(), Type: "antivirus_alert", UserID: user, Severity: rdr.SeverityCritical}))
}

// alertsBy lists GET /api/alerts (with query) as rule/key → silencedBy.
func alertsBy(t *testing.T, base, query string) map[string]any {
	t.Helper()
	status, body := do(t, http.MethodGet, base+"/api/alerts?status=all"+query, "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	out := map[string]any{}
	for _, item := range body["alerts"].([]any) {
		a := item.(map[string]any)
		out[a["rule"].(string)+"/"+a["key"].(string)] = a["silencedBy"] // nil when absent
	}
	return out
}

func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw)
}

func withInfluxDB(t *testing.T, prefix string) func(*options) {
	t.Helper()
	influxURL, token := os.Getenv("RDR_INFLUX_URL"), os.Getenv("RDR_INFLUX_TOKEN")
	if influxURL == "" {
		if os.Getenv("RDR_REQUIRE_SERVICES") == "1" {
			t.Fatal("RDR_INFLUX_URL not set, and RDR_REQUIRE_SERVICES=1")
		}
		t.Skip(`RDR_INFLUX_URL not set: run scripts/services.sh start influxdb; eval "$(scripts/services.sh env)"`)
	}
	db := servicetest.InfluxDatabase(t, influxURL, token, prefix)
	return func(o *options) {
		o.influxURL, o.influxToken, o.influxOrg, o.influxBucket = influxURL, token, os.Getenv("RDR_INFLUX_ORG"), db+"/autogen"
	}
}

// The whole path on InfluxDB: a silence made through the API mutes its
// rule's alert — listed with silencedBy, never sent live — and not the
// other rule's; expired through the API, it mutes nothing more; and after
// a restart on the same InfluxDB, the silence is there as it was, and so
// is the alert's mark.
func TestSilencesEndToEndWithInfluxDB(t *testing.T) {
	withInflux := withInfluxDB(t, "rdr_silence")
	first, stop := startServer(t, withInflux)
	live := liveAlerts(t, first)

	status, body := do(t, http.MethodPost, first+"/api/silences", silenceBody("failed-login-burst"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	made := body["silence"].(map[string]any)
	id := made["id"].(string)

	status, reply := do(t, http.MethodPost, first+"/api/events", failedLogins("trudy", 8))
	require.Equal(t, http.StatusOK, status, "%v", reply)
	waitFor(t, func() bool { return len(alertsBy(t, first, "&key=trudy")) == 1 })
	// Then another rule's alert: the hub sends a task's alerts in order,
	// so a live trudy alert would come before carol's.
	status, reply = do(t, http.MethodPost, first+"/api/events", criticalEvent("carol"))
	require.Equal(t, http.StatusOK, status, "%v", reply)
	seen := nextLive(t, live, "critical-event", "carol")
	for _, a := range seen {
		assert.NotEqual(t, "trudy", a["key"], "a silenced alert is not sent live: %v", a)
	}
	carol := seen[len(seen)-1]
	assert.Equal(t, "firing", carol["status"])
	assert.NotContains(t, carol, "silencedBy")

	assert.Equal(t, map[string]any{"failed-login-burst/trudy": id, "critical-event/carol": nil}, alertsBy(t, first, ""))
	assert.Equal(t, map[string]any{"failed-login-burst/trudy": id}, alertsBy(t, first, "&silenced=true"))
	assert.Equal(t, map[string]any{"critical-event/carol": nil}, alertsBy(t, first, "&silenced=false"))
	assert.Contains(t, metricsText(t, first), "rdr_alerts_silenced_total 1\n", "one emission silenced: trudy's firing")

	// Expired, the silence mutes nothing: the same rule for another user
	// is sent live and not marked.
	status, body = do(t, http.MethodDelete, first+"/api/silences/"+id, "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	expired := body["silence"].(map[string]any)
	require.Equal(t, "expired", expired["state"])
	status, reply = do(t, http.MethodPost, first+"/api/events", failedLogins("mallory", 8))
	require.Equal(t, http.StatusOK, status, "%v", reply)
	seen = nextLive(t, live, "failed-login-burst", "mallory")
	assert.Len(t, seen, 1, "only mallory's alert came meanwhile")
	assert.NotContains(t, seen[0], "silencedBy")
	assert.Equal(t, map[string]any{"failed-login-burst/trudy": id, "critical-event/carol": nil, "failed-login-burst/mallory": nil}, alertsBy(t, first, ""))
	assert.Contains(t, metricsText(t, first), "rdr_alerts_silenced_total 1\n")
	stop()

	second := server(t, withInflux)
	_, body = do(t, http.MethodGet, second+"/api/silences", "")
	assert.Equal(t, map[string]any{"silences": []any{expired}}, body,
		"the silence survives the restart: same id, matchers, times, author and comment, expired")
	assert.Equal(t, map[string]any{"failed-login-burst/trudy": id, "critical-event/carol": nil, "failed-login-burst/mallory": nil}, alertsBy(t, second, ""),
		"and so does the alert's mark")
}

// Dashboards sharing an InfluxDB (a scaled-out group) share silences: one
// made through dashboard A reaches B's processor, and so does its expiry.
func TestSilencesReachOtherDashboards(t *testing.T) {
	withInflux := withInfluxDB(t, "rdr_silence_group")
	fast := func(o *options) { withInflux(o); o.silenceRefresh = 100 * time.Millisecond }
	a, b := server(t, fast), server(t, fast)

	status, body := do(t, http.MethodPost, a+"/api/silences", silenceBody("failed-login-burst"))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	id := body["silence"].(map[string]any)["id"].(string)
	state := func() any {
		_, body := do(t, http.MethodGet, b+"/api/silences", "")
		list := body["silences"].([]any)
		if len(list) != 1 {
			return nil
		}
		return list[0].(map[string]any)["state"]
	}
	waitFor(t, func() bool { return state() == "active" })
	status, reply := do(t, http.MethodPost, b+"/api/events", failedLogins("eve", 8))
	require.Equal(t, http.StatusOK, status, "%v", reply)
	waitFor(t, func() bool { return len(alertsBy(t, b, "&key=eve")) == 1 })
	assert.Equal(t, map[string]any{"failed-login-burst/eve": id}, alertsBy(t, b, ""), "B's processor applies A's silence")

	status, _ = do(t, http.MethodDelete, a+"/api/silences/"+id, "")
	require.Equal(t, http.StatusOK, status)
	waitFor(t, func() bool { return state() == "expired" })
}
