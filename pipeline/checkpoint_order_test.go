package pipeline

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sink"
)

// gateSink's first Flush says it has begun and waits for release; later
// ones return at once.
type gateSink struct {
	once             sync.Once
	entered, release chan struct{}
}

func (g *gateSink) WriteWindow(context.Context, sink.WindowResult) error { return nil }
func (g *gateSink) WriteAlert(context.Context, anomaly.Alert) error      { return nil }
func (g *gateSink) Close() error                                         { return nil }
func (g *gateSink) Flush(ctx context.Context) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// commitsSub is a GoChannel that takes partition handlers and records the
// offsets committed, in order.
type commitsSub struct {
	*gochannel.GoChannel
	mu      sync.Mutex
	commits []int64
}

func (c *commitsSub) SetPartitionHandler(PartitionHandler) {}
func (c *commitsSub) Commit(_ string, _ int32, offset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits = append(c.commits, offset)
	return nil
}

// orderStore keeps every checkpoint saved, in order.
type orderStore struct {
	mu    sync.Mutex
	saved []Checkpoint
}

func (s *orderStore) Save(_ context.Context, cp Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saved = append(s.saved, cp)
	return nil
}

func (s *orderStore) Load(_ context.Context, topic string, partition int32) (Checkpoint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.saved) - 1; i >= 0; i-- {
		if cp := s.saved[i]; cp.Topic == topic && cp.Partition == partition {
			return cp, true, nil
		}
	}
	return Checkpoint{}, false, nil
}

// A periodic checkpoint takes its snapshot and waits for a slow sink; the
// partition is revoked meanwhile, after more events. The revoke's
// checkpoint, the newer one, is the one left: the periodic one never saves
// its older state over it. (Before, it did, and the next owner restored a
// state behind the committed offset: TestRebalanceIsExact lost events in
// 1 run of 3, and in 2 of 3 with the sinks slower.)
func TestCheckpointNeverSavesAnOlderStateOverANewer(t *testing.T) {
	ps := gochannel.NewGoChannel(gochannel.Config{}, nil)
	t.Cleanup(func() { ps.Close() })
	sub := &commitsSub{GoChannel: ps}
	gate := &gateSink{entered: make(chan struct{}), release: make(chan struct{})}
	store := &orderStore{}
	p, err := New(Config{
		Subscriber: sub, Publisher: ps, Sinks: []sink.Sink{gate}, Checkpoints: store,
		Partition: func(m *message.Message) (int32, int64, bool) {
			o, err := strconv.ParseInt(m.Metadata.Get("offset"), 10, 64)
			return 0, o, err == nil
		},
		Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
		Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)),
	})
	require.NoError(t, err)
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			ev := rdr.Event{Time: t0.Add(time.Duration(i) * 10 * time.Millisecond), Type: "login", UserID: "u-" + strconv.Itoa(i%3),
				IP: netip.MustParseAddr("203.0.113.9"), Severity: rdr.SeverityLow}
			msg := message.NewMessage(strconv.Itoa(i), rdr.AppendJSON(nil, ev))
			msg.Metadata.Set("offset", strconv.Itoa(i))
			require.NoError(t, p.apply(p.cfg.Topic, msg))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	send(0, 10)
	periodic := make(chan error, 1)
	go func() { periodic <- p.checkpoint(ctx, p.taskList(), false) }()
	<-gate.entered // its snapshot is at offset 10
	send(10, 25)
	revoked := make(chan struct{})
	go func() { p.PartitionRevoked(ctx, p.cfg.Topic, 0); close(revoked) }()
	time.Sleep(200 * time.Millisecond) // room for the revoke to run ahead, as it did
	close(gate.release)
	require.NoError(t, <-periodic)
	<-revoked

	cp, ok, err := store.Load(ctx, p.cfg.Topic, 0)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(25), cp.Offset, "the newest state is the one left")
	store.mu.Lock()
	defer store.mu.Unlock()
	for i := 1; i < len(store.saved); i++ {
		assert.GreaterOrEqual(t, store.saved[i].Offset, store.saved[i-1].Offset, "saves in order")
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	require.NotEmpty(t, sub.commits)
	assert.Equal(t, int64(25), sub.commits[len(sub.commits)-1], "the group is committed where the checkpoint is")
}
