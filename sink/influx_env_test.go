package sink_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
)

// influxEnv is the real server the integration tests use, from the
// environment that `eval "$(scripts/services.sh env)"` sets.
type influxEnv struct {
	URL, Token, Org, Bucket string
}

// v1 reports whether the server is InfluxDB 1.8 (bucket "db/rp").
func (e influxEnv) v1() bool { return strings.Contains(e.Bucket, "/") }

func requireInflux(t testing.TB) influxEnv {
	t.Helper()
	e := influxEnv{
		URL:    os.Getenv("RDR_INFLUX_URL"),
		Token:  os.Getenv("RDR_INFLUX_TOKEN"),
		Org:    os.Getenv("RDR_INFLUX_ORG"),
		Bucket: os.Getenv("RDR_INFLUX_BUCKET"),
	}
	if e.URL == "" || e.Bucket == "" {
		t.Skip(`RDR_INFLUX_URL/RDR_INFLUX_BUCKET not set: run scripts/services.sh start influxdb; eval "$(scripts/services.sh env)"`)
	}
	return e
}

var bucketSeq atomic.Int64

// newBucket creates an empty bucket (1.8: a database, "db/autogen") for one
// test and drops it at cleanup.
func newBucket(t testing.TB, e influxEnv) string {
	t.Helper()
	name := fmt.Sprintf("rdr_sink_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.v1() {
		influxQL(t, e, fmt.Sprintf("CREATE DATABASE %q", name))
		t.Cleanup(func() { influxQL(t, e, fmt.Sprintf("DROP DATABASE %q", name)) })
		return name + "/autogen"
	}
	c := influxdb2.NewClient(e.URL, e.Token)
	defer c.Close()
	org, err := c.OrganizationsAPI().FindOrganizationByName(ctx, e.Org)
	require.NoError(t, err, "find org %q", e.Org)
	b, err := c.BucketsAPI().CreateBucketWithName(ctx, org, name)
	require.NoError(t, err, "create bucket")
	t.Cleanup(func() {
		c := influxdb2.NewClient(e.URL, e.Token)
		defer c.Close()
		_ = c.BucketsAPI().DeleteBucket(context.Background(), b)
	})
	return name
}

var influxQLClient = &http.Client{Transport: &http.Transport{}}

// influxQL runs one InfluxQL statement on a 1.8 server.
func influxQL(t testing.TB, e influxEnv, stmt string) {
	t.Helper()
	form := url.Values{"q": {stmt}}
	if u, p, ok := strings.Cut(e.Token, ":"); ok {
		form.Set("u", u)
		form.Set("p", p)
	}
	resp, err := influxQLClient.Post(e.URL+"/query", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err, stmt)
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", stmt, body.String())
	influxQLClient.CloseIdleConnections()
}

// influxConfig is a sink config for bucket on the test server.
func influxConfig(e influxEnv, bucket string) sink.InfluxConfig {
	return sink.InfluxConfig{URL: e.URL, Token: e.Token, Org: e.Org, Bucket: bucket, FlushInterval: 50 * time.Millisecond}
}

func newInflux(t testing.TB, cfg sink.InfluxConfig) *sink.Influx {
	t.Helper()
	s, err := sink.NewInflux(cfg)
	require.NoError(t, err)
	return s
}

// newInfluxClosed is newInflux with Close at cleanup.
func newInfluxClosed(t testing.TB, cfg sink.InfluxConfig) *sink.Influx {
	t.Helper()
	s := newInflux(t, cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// syncBuffer is a goroutine-safe log destination.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
