//go:build unix

package broadcast_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr/broadcast"
)

// BenchmarkHubFanout: 5,000 clients on real WebSocket connections over
// loopback, each receiving 10 messages a second (one publish every 100 ms
// goes to all of them). One b.N iteration is one publish. It reports
//
//   - cpu-ns/msg: process CPU time (user+system, from getrusage) spent
//     during the publish loop, per message delivered. The clients run in
//     the same process, so this includes their reading too.
//   - fanout-ms: mean time from Publish until the last client has the
//     message.
//   - B/conn: live heap per idle connection (after GC, hub and client side
//     together), and stack-B/conn: goroutine stacks per connection.
//
// The clients are a minimal WebSocket client (handshake, frame reader,
// pong and close replies) so that their own cost stays small next to the
// server's. Run it as
//
//	go test -run '^$' -bench HubFanout -benchtime 20x ./broadcast
func BenchmarkHubFanout(b *testing.B) {
	const clients = 5000
	const interval = 100 * time.Millisecond // 10 messages/s per client
	raiseFileLimit(b, 2*clients+256)

	hub, err := broadcast.NewHub(broadcast.Config{})
	require.NoError(b, err)
	srv := httptest.NewServer(hub)
	addr := srv.Listener.Addr().String()

	var hellos, received, target atomic.Int64
	done := make(chan struct{}, 1)
	onMessage := func(first bool) {
		if first {
			hellos.Add(1)
			return
		}
		if received.Add(1) == target.Load() {
			done <- struct{}{}
		}
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	var clientsWG sync.WaitGroup
	conns := make(chan *rawClient, clients)
	var dialWG sync.WaitGroup
	var dialErr atomic.Pointer[error]
	for w := range 32 {
		dialWG.Go(func() {
			for i := w; i < clients; i += 32 {
				c, err := dialRaw(addr, "/?topics=events")
				if err != nil {
					dialErr.CompareAndSwap(nil, &err)
					return
				}
				conns <- c
				clientsWG.Go(func() { _ = c.run(onMessage) })
			}
		})
	}
	dialWG.Wait()
	close(conns)
	if p := dialErr.Load(); p != nil {
		b.Fatal(*p)
	}
	require.Eventually(b, func() bool { return hellos.Load() == clients }, time.Minute, 10*time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerConn := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / clients
	stackPerConn := float64(int64(after.StackInuse)-int64(before.StackInuse)) / clients

	event := map[string]any{
		"timestamp": "2026-11-26T10:00:00.123Z", "eventType": "login_failed", "userId": "u-1842",
		"ipAddress": "203.0.113.7", "severity": "high", "metadata": map[string]string{"app": "vpn", "country": "DE"},
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var fanout time.Duration
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		target.Store(int64(clients * (i + 1)))
		start := time.Now()
		if err := hub.Publish(broadcast.TopicEvents, event); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatalf("publish %d: %d of %d deliveries after 30s", i, received.Load(), clients*(i+1))
		}
		fanout += time.Since(start)
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0

	st := hub.Stats()
	require.Equal(b, uint64(0), st.Dropped)
	require.Equal(b, uint64(clients*b.N), st.Delivered)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(clients*b.N), "cpu-ns/msg")
	b.ReportMetric(float64(fanout.Microseconds())/1000/float64(b.N), "fanout-ms")
	b.ReportMetric(heapPerConn, "B/conn")
	b.ReportMetric(stackPerConn, "stack-B/conn")

	require.NoError(b, hub.Close())
	clientsWG.Wait()
	srv.Close()
	for c := range conns {
		_ = c.conn.Close()
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseFileLimit makes room for n open files, or skips the benchmark.
func raiseFileLimit(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	require.NoError(b, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		b.Skipf("needs %d open files; the hard limit is %d", n, lim.Max)
	}
	lim.Cur = n
	require.NoError(b, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
}

// rawClient is a minimal WebSocket client: it reads frames and counts
// messages, answers pings and the close handshake, and holds a 512-byte
// buffer — so that in-process benchmark figures are mostly the hub's.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(addr, path string) (*rawClient, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return &rawClient{conn: conn, br: br}, nil
}

// run reads until the connection ends, calling onMessage for each data
// message (first is true for the first one, the hello).
func (c *rawClient) run(onMessage func(first bool)) error {
	defer c.conn.Close()
	first := true
	var hdr [8]byte
	var ctl [125]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return err
		}
		fin, op := hdr[0]&0x80 != 0, hdr[0]&0x0f
		n := int64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint64(hdr[:8]))
		}
		if op >= 0x8 { // control frame
			if n > int64(len(ctl)) {
				return errors.New("control frame too long")
			}
			if _, err := io.ReadFull(c.br, ctl[:n]); err != nil {
				return err
			}
			switch op {
			case 0x9: // ping
				if err := c.writeFrame(0xA, ctl[:n]); err != nil {
					return err
				}
			case 0x8: // close: echo it and stop
				_ = c.writeFrame(0x8, ctl[:n])
				return nil
			}
			continue
		}
		if _, err := c.br.Discard(int(n)); err != nil {
			return err
		}
		if fin {
			onMessage(first)
			first = false
		}
	}
}

// writeFrame writes a masked frame (mask key 0, so the payload is as is).
func (c *rawClient) writeFrame(op byte, p []byte) error {
	buf := make([]byte, 0, 6+len(p))
	buf = append(buf, 0x80|op, 0x80|byte(len(p)), 0, 0, 0, 0)
	buf = append(buf, p...)
	_, err := c.conn.Write(buf)
	return err
}
