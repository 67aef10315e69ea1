package sink_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/influxdata/influxdb-client-go/v2/domain"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/sink"
)

// influxEnv is one server the integration tests use: the real InfluxDB 1.8
// and 2.x that `eval "$(scripts/services.sh env)"` points at, or the fake of
// InfluxDB 3.x (fakev3_test.go).
type influxEnv struct {
	Name                    string
	URL, Token, Org, Bucket string
	// binds is true when the server binds query parameters (1.8, 2.x).
	binds bool
	fake  *fakeV3
}

// v1 reports whether the server is InfluxDB 1.8 (bucket "db/rp").
func (e influxEnv) v1() bool { return strings.Contains(e.Bucket, "/") }

// servicesRequired is set by scripts/test.sh: a missing server fails the
// test instead of skipping it.
var servicesRequired = os.Getenv("RDR_REQUIRE_SERVICES") == "1"

func missing(t testing.TB, what string) {
	t.Helper()
	if servicesRequired {
		t.Fatalf("%s not set, and RDR_REQUIRE_SERVICES=1: scripts/services.sh start all did not start it", what)
	}
	t.Skipf(`%s not set: run scripts/services.sh start all; eval "$(scripts/services.sh env)"`, what)
}

// requireInflux is the InfluxDB 1.8 server.
func requireInflux(t testing.TB) influxEnv {
	t.Helper()
	return influxFromEnv(t, "influxdb-1.8", "RDR_INFLUX_")
}

// requireInflux2 is the InfluxDB 2.x server.
func requireInflux2(t testing.TB) influxEnv {
	t.Helper()
	return influxFromEnv(t, "influxdb-2", "RDR_INFLUX2_")
}

// influxFromEnv is the server named by the variables PREFIX{URL,TOKEN,ORG,BUCKET}.
func influxFromEnv(t testing.TB, name, prefix string) influxEnv {
	t.Helper()
	e := influxEnv{
		Name:   name,
		URL:    os.Getenv(prefix + "URL"),
		Token:  os.Getenv(prefix + "TOKEN"),
		Org:    os.Getenv(prefix + "ORG"),
		Bucket: os.Getenv(prefix + "BUCKET"),
		binds:  true,
	}
	if e.URL == "" || e.Bucket == "" {
		missing(t, prefix+"URL/"+prefix+"BUCKET")
	}
	return e
}

// forEachInflux runs f as a subtest on InfluxDB 1.8, on InfluxDB 2.x and on
// the fake of 3.x.
func forEachInflux(t *testing.T, f func(t *testing.T, e influxEnv)) {
	t.Helper()
	t.Run("influxdb-1.8", func(t *testing.T) { f(t, requireInflux(t)) })
	t.Run("influxdb-2", func(t *testing.T) { f(t, requireInflux2(t)) })
	t.Run("influxdb-3-fake", func(t *testing.T) {
		fake := newFakeV3(t)
		f(t, influxEnv{Name: "influxdb-3-fake", URL: fake.URL(), Token: fakeV3Token, Bucket: "rdr", fake: fake})
	})
}

// bindModes are the ways History can pass filter values to e: bound and as
// literals where it binds, as literals where it does not.
func bindModes(e influxEnv) []bool {
	if e.binds {
		return []bool{true, false}
	}
	return []bool{false}
}

var bucketSeq atomic.Int64

// newBucket creates an empty bucket (1.8: a database, "db/autogen"; 3.x:
// a database, made by the first write) for one test and drops it at
// cleanup.
func newBucket(t testing.TB, e influxEnv) string {
	t.Helper()
	name := fmt.Sprintf("rdr_sink_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	if e.fake != nil {
		return name
	}
	if e.v1() {
		influxQL(t, e, fmt.Sprintf("CREATE DATABASE %q", name))
		t.Cleanup(func() { influxQL(t, e, fmt.Sprintf("DROP DATABASE %q", name)) })
		return name + "/autogen"
	}
	b := createBucket(t, e, name)
	t.Cleanup(func() {
		c := influxdb2.NewClient(e.URL, e.Token)
		defer c.Close()
		_ = c.BucketsAPI().DeleteBucket(context.Background(), b)
	})
	return name
}

// createBucket makes a 2.x bucket.
func createBucket(t testing.TB, e influxEnv, name string) *domain.Bucket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := influxdb2.NewClient(e.URL, e.Token)
	defer c.Close()
	org, err := c.OrganizationsAPI().FindOrganizationByName(ctx, e.Org)
	require.NoError(t, err, "find org %q", e.Org)
	b, err := c.BucketsAPI().CreateBucketWithName(ctx, org, name)
	require.NoError(t, err, "create bucket")
	return b
}

// newBucketNoCleanup makes a 2.x bucket that outlives the test.
func newBucketNoCleanup(t testing.TB, e influxEnv, name string) string {
	createBucket(t, e, name)
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

// countPoints counts the points of measurement (its field "total") in bucket,
// with InfluxQL.
func countPoints(t testing.TB, e influxEnv, bucket, measurement string) int {
	t.Helper()
	db, rp, _ := strings.Cut(bucket, "/")
	form := url.Values{"db": {db}, "epoch": {"ns"}, "q": {fmt.Sprintf(`SELECT count("total") FROM %q`, measurement)}}
	if rp != "" {
		form.Set("rp", rp)
	}
	req, err := http.NewRequest(http.MethodGet, e.URL+"/query?"+form.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Token "+e.Token)
	resp, err := influxQLClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]json.Number `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	if len(out.Results) == 0 || len(out.Results[0].Series) == 0 {
		return 0
	}
	n, err := out.Results[0].Series[0].Values[0][1].Int64()
	require.NoError(t, err)
	return int(n)
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
