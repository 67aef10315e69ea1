package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/examples/internal/servicetest"
)

// ownKafka starts a Kafka broker for one test (scripts/services.sh with a
// state dir of its own), so that the test can freeze and crash it without
// touching the broker the other tests share. It returns the broker
// address and a function running services.sh on it.
func ownKafka(t *testing.T) (broker string, svc func(args ...string) string) {
	t.Helper()
	dir := t.TempDir()
	script, err := filepath.Abs("../../scripts/services.sh")
	require.NoError(t, err)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), "RDR_SERVICES_DIR="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("services.sh %v: %w: %s", args, err, stderr.String())
		}
		return string(out), nil
	}
	plain := func(args ...string) string {
		out, err := run(args...)
		require.NoError(t, err)
		return out
	}
	svc = plain
	plain("start", "kafka")
	t.Cleanup(func() {
		if pid, err := os.ReadFile(filepath.Join(dir, "kafka", "kafka.pid")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
				_ = syscall.Kill(n, syscall.SIGCONT)
			}
		}
		plain("stop", "kafka")
	})
	asyncErr := make(chan error, 1)
	ready, err := os.ReadFile(filepath.Join(dir, "kafka", "ready"))
	require.NoError(t, err)
	return strings.TrimSpace(string(ready)), func(args ...string) string {
		if len(args) == 1 && (args[0] == "freeze" || args[0] == "thaw") {
			pid, err := os.ReadFile(filepath.Join(dir, "kafka", "kafka.pid"))
			require.NoError(t, err)
			n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
			require.NoError(t, err)
			sig := syscall.SIGSTOP
			if args[0] == "thaw" {
				sig = syscall.SIGCONT
			}
			require.NoError(t, syscall.Kill(n, sig))
			return ""
		}
		if len(args) == 2 && args[0] == "async" { // run in the background; "wait" waits for it
			go func() { asyncErr <- func() error { _, err := run(args[1], "kafka"); return err }() }()
			return ""
		}
		if len(args) == 1 && args[0] == "wait" {
			require.NoError(t, <-asyncErr)
			return ""
		}
		return plain(args...)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// getJSON GETs url into v.
func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// promValue reads one sample from a /metrics page.
func promValue(base, name string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no %s on /metrics", name)
}

// The reference deployment (examples/dashboard as its own process, with
// checkpoints) on a Kafka broker of its own, fed live by kcat — librdkafka
// buffers what it cannot deliver, and delivers it later, as log shippers
// do. Mid-stream the broker is frozen for 20 s (SIGSTOP: to its clients, a
// network partition), and later killed and started again (SIGKILL: a
// crash). Nothing may be lost to lateness: before idleness was asked of
// the broker, the watermark followed the wall clock during the outage and
// 23–27% of such a stream went to the late topic. In the end the history
// holds exactly the valid events sent, none is late, and every invalid
// one is a dead letter.
func TestBrokerOutagesLoseNothing(t *testing.T) {
	if os.Getenv("RDR_KAFKA_BROKERS") == "" {
		t.Skip(`RDR_KAFKA_BROKERS not set: run scripts/services.sh start kafka (this test starts a broker of its own too)`)
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed (scripts/services.sh deps apt)")
	}
	broker, svc := ownKafka(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	proc := &processProc{t: t, name: "outage", bin: dashboardBinary(t), logs: t.TempDir(), env: []string{
		"RDR_ADDR=127.0.0.1:" + strconv.Itoa(port), "RDR_GENERATE=false", "RDR_LOG_LEVEL=info",
		"RDR_KAFKA_BROKERS=" + broker, "RDR_KAFKA_GROUP=rdr-outage", "RDR_KAFKA_INSTANCE_ID=outage",
		"RDR_CHECKPOINT_INTERVAL=1s", "RDR_IDLE_TIMEOUT=2s", "RDR_MEMORY_WINDOWS=100000",
		"RDR_INFLUX_URL=", // the in-memory history
		"RDR_KAFKA_OUTAGE_GRACE=" + os.Getenv("RDR_TEST_OUTAGE_GRACE"), // set -1s to see the loss without it
	}}
	proc.start()
	t.Cleanup(func() {
		if proc.running() {
			proc.signal(syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(proc.logs, "run-1.log"))
			t.Logf("dashboard log (tail):\n%s", tail(string(b), 4000))
		}
	})
	servicetest.WaitAssigned(t, []string{broker}, "rdr-outage", "security-events", 1)

	kcat := exec.Command("kcat", "-P", "-E", "-b", broker, "-t", "security-events", "-K", "\t", "-z", "snappy", // -E: carry on while the broker is down
		"-X", "partitioner=murmur2_random", // as Kafka's Java client and rdr's publisher
		"-X", "enable.idempotence=true", // a retry after a timeout does not write twice
		"-X", "message.timeout.ms=600000", "-X", "linger.ms=20",
		// After the crash, kcat comes back 4–8 s after the broker (its
		// default backoff allows up to 10 s): longer than the idle timeout.
		"-X", "reconnect.backoff.ms=4000", "-X", "reconnect.backoff.max.ms=8000",
		"-X", "queue.buffering.max.messages=2000000", "-X", "queue.buffering.max.kbytes=2097152")
	stdin, err := kcat.StdinPipe()
	require.NoError(t, err)
	var kcatErr lockedBuffer
	kcat.Stderr = &kcatErr
	require.NoError(t, kcat.Start())

	// 2,000 events a second for 60 s, stamped as they are written; every
	// 500th record is invalid.
	const rate, seconds = 2000, 60
	start := time.Now()
	valid, invalid := 0, 0
	w := bufio.NewWriter(stdin)
	froze, thawed, crashed := false, false, false
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	stopPoll := make(chan struct{})
	defer close(stopPoll)
	go func() { // diagnostics: the late count each second
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(time.Second):
			}
			if v, err := promValue(base, "rdr_events_late_total"); err == nil && v > 0 {
				t.Logf("%s: late %v", time.Since(start).Round(time.Second), v)
			}
		}
	}()
	for n := 0; n < rate*seconds; {
		<-tick.C
		elapsed := time.Since(start)
		for ; n < int(elapsed.Seconds()*rate) && n < rate*seconds; n++ {
			user := fmt.Sprintf("outage-user-%d", n%300)
			if n%500 == 499 {
				fmt.Fprintf(w, "%s\t{\"timestamp\":%q,\"eventType\":\"login\",\"userId\":%q,\"severity\":\"urgent\"}\n", user, time.Now().UTC().Format(time.RFC3339Nano), user)
				invalid++
				continue
			}
			typ := []string{"login_success", "file_access", "logout", "api_call"}[n%4]
			w.Write([]byte(user + "\t"))
			w.Write(rdr.AppendJSON(nil, rdr.Event{Time: time.Now(), Type: typ, UserID: user, Severity: rdr.SeverityLow}))
			w.WriteByte('\n')
			valid++
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("writing to kcat: %v; kcat: %s", err, kcatErr.String())
		}
		switch {
		case !froze && elapsed > 10*time.Second:
			froze = true
			svc("freeze")
			t.Logf("%s: broker frozen", elapsed.Round(time.Millisecond))
		case froze && !thawed && elapsed > 30*time.Second:
			thawed = true
			svc("thaw")
			t.Logf("%s: broker thawed", elapsed.Round(time.Millisecond))
		case thawed && !crashed && elapsed > 40*time.Second:
			crashed = true
			svc("async", "crash-restart") // kcat buffers meanwhile
			t.Logf("%s: broker killed, restarting", elapsed.Round(time.Millisecond))
		}
	}
	require.NoError(t, stdin.Close())
	svc("wait")
	waitDone := make(chan error, 1)
	go func() { waitDone <- kcat.Wait() }()
	select {
	case err := <-waitDone:
		require.NoError(t, err, "kcat: %s", kcatErr.String())
	case <-time.After(3 * time.Minute):
		_ = kcat.Process.Kill()
		t.Fatalf("kcat did not deliver everything in 3 minutes: %s", kcatErr.String())
	}
	t.Logf("kcat delivered %d valid and %d invalid events in %s", valid, invalid, time.Since(start).Round(time.Millisecond))
	_, end := committed(t, []string{broker}, "rdr-outage", "security-events")
	var records int64
	for _, n := range end {
		records += n
	}
	require.Equal(t, int64(valid+invalid), records, "the topic holds every record once (idempotent producer)")

	// Everything applied and every window fired (the partitions go idle
	// once the broker says they have nothing more).
	from, to := start.Add(-time.Minute).UTC().Format(time.RFC3339), time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	var total float64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var h struct {
			Series []struct {
				Points []struct{ V float64 } `json:"points"`
			} `json:"series"`
		}
		total = 0
		if err := getJSON(base+"/api/history?metric=events&interval=24h&start="+from+"&stop="+to, &h); err == nil {
			for _, s := range h.Series {
				for _, p := range s.Points {
					total += p.V
				}
			}
		}
		if total == float64(valid) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	late, err := promValue(base, "rdr_events_late_total")
	require.NoError(t, err)
	var health struct{ DeadLetters, Late float64 }
	require.NoError(t, getJSON(base+"/api/health", &health))
	t.Logf("history holds %v of %d valid events; late %v; dead letters %v of %d invalid", total, valid, late, health.DeadLetters, invalid)
	if !assert.Zero(t, late, "events lost to lateness") {
		var l struct {
			Items []struct {
				Recorded time.Time
				Reason   string
			}
		}
		if getJSON(base+"/api/late?limit=1000", &l) == nil {
			for i := 0; i < len(l.Items); i += 100 {
				t.Logf("late: recorded %s (%s after the start): %s", l.Items[i].Recorded.Format("15:04:05.000"), l.Items[i].Recorded.Sub(start).Round(time.Millisecond), l.Items[i].Reason)
			}
		}
	}
	assert.Equal(t, float64(valid), total, "the history holds exactly the valid events sent")
	// A record re-read after the rebalance is dead-lettered again: at
	// least every invalid one, never fewer.
	assert.GreaterOrEqual(t, health.DeadLetters, float64(invalid))
}

// lockedBuffer is a strings.Builder safe for concurrent use (a process
// writes it while the test may read it).
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
