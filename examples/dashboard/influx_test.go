package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/examples/internal/servicetest"
)

// With InfluxDB as the store, alerts outlive the dashboard: a restarted one
// loads them and lists them as before, acknowledgement included. Needs
// RDR_INFLUX_URL (scripts/services.sh).
func TestAlertsSurviveARestartWithInfluxDB(t *testing.T) {
	influxURL, token := os.Getenv("RDR_INFLUX_URL"), os.Getenv("RDR_INFLUX_TOKEN")
	if influxURL == "" {
		t.Skip(`RDR_INFLUX_URL not set: run scripts/services.sh start influxdb; eval "$(scripts/services.sh env)"`)
	}
	db := servicetest.InfluxDatabase(t, influxURL, token, "rdr_dash")
	withInflux := func(o *options) {
		o.influxURL, o.influxToken, o.influxOrg, o.influxBucket = influxURL, token, os.Getenv("RDR_INFLUX_ORG"), db+"/autogen"
	}
	first, stop := startServer(t, withInflux)

	now := time.Now().UTC()
	var batch []string
	for i := range 8 {
		batch = append(batch, ev("login_failed", "trudy", now.Add(time.Duration(i)*time.Millisecond)))
	}
	status, reply := do(t, http.MethodPost, first+"/api/events", strings.Join(batch, "\n"))
	require.Equal(t, http.StatusOK, status, "%v", reply)
	var before map[string]any
	waitFor(t, func() bool {
		_, list := do(t, http.MethodGet, first+"/api/alerts?status=all&key=trudy", "")
		alerts, _ := list["alerts"].([]any)
		if len(alerts) == 0 {
			return false
		}
		before = alerts[0].(map[string]any)
		return true
	})
	status, acked := do(t, http.MethodPost, first+"/api/alerts/"+before["id"].(string)+"/ack", "")
	require.Equal(t, http.StatusOK, status)
	ackedAt := acked["alert"].(map[string]any)["ackedAt"]
	require.NotEmpty(t, ackedAt)
	stop() // closes the sinks: the alert is in InfluxDB now

	second := server(t, withInflux)
	_, list := do(t, http.MethodGet, second+"/api/alerts?status=all&key=trudy", "")
	alerts, _ := list["alerts"].([]any)
	require.Len(t, alerts, 1, "the alert of before the restart")
	after := alerts[0].(map[string]any)
	for _, k := range []string{"id", "rule", "key", "groupBy", "severity", "status", "count", "firstSeen", "lastSeen", "message", "value", "threshold", "riskScore"} {
		assert.Equal(t, before[k], after[k], k)
	}
	assert.Equal(t, true, after["acked"], "the acknowledgement survives the restart")
	assert.Equal(t, ackedAt, after["ackedAt"])
	assert.Equal(t, []any{}, after["events"], "InfluxDB does not keep contributing events")
}
