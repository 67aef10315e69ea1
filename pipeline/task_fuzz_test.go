package pipeline

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
)

// fuzzProcessor is a processor with the default rules and a repartition
// topic, never run: its tasks are driven directly.
func fuzzProcessor(t testing.TB) *Processor {
	ps := gochannel.NewGoChannel(gochannel.Config{}, nil)
	t.Cleanup(func() { ps.Close() })
	p, err := New(Config{
		Subscriber: ps, Publisher: ps, RepartitionTopic: "in.repartition", RepartitionSubscriber: ps,
		Rules: func() ([]anomaly.Rule, error) { return anomaly.DefaultRules(), nil },
		Clock: rdr.NewFakeClock(time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshots returns the state of an input task and of a repartition task
// that have applied a little traffic.
func snapshots(t testing.TB, p *Processor) (input, rekeyed []byte) {
	in, err := p.newTask(p.cfg.Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := p.newTask("in.repartition", 0)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var out outputs
	for i := range 30 {
		ev := rdr.Event{Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Type: "login_failed", UserID: "u" + string(rune('a'+i%5)),
			IP: netip.MustParseAddr("203.0.113.9"), Severity: rdr.SeverityMedium}
		msg := message.NewMessage("m", rdr.AppendJSON(nil, ev))
		in.apply(testInput(msg), &out)
	}
	for i, m := range out.rekeyed {
		m.Metadata.Set(MetaPartition, "0")
		m.Metadata.Set(MetaOffset, "0")
		m.Metadata.Set(MetaItem, string(rune('0'+i%10)))
		rk.applyRekeyed(testInput(m), &outputs{})
	}
	if input, err = in.snapshot(); err != nil {
		t.Fatal(err)
	}
	if rekeyed, err = rk.snapshot(); err != nil {
		t.Fatal(err)
	}
	return input, rekeyed
}

// A task's state restores into a fresh task and encodes back to the same
// bytes; damaged state is refused with ErrInvalidCheckpoint, never a
// panic, and leaves the task as it was.
func FuzzTaskRestore(f *testing.F) {
	p := fuzzProcessor(f)
	input, rekeyed := snapshots(f, p)
	f.Add(input, false)
	f.Add(rekeyed, true)
	f.Add(input[:len(input)/2], false)
	f.Fuzz(func(t *testing.T, state []byte, repartition bool) {
		topic := p.cfg.Topic
		if repartition {
			topic = "in.repartition"
		}
		tk, err := p.newTask(topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		before, err := tk.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.restore(state); err != nil {
			if !errors.Is(err, ErrInvalidCheckpoint) {
				t.Fatalf("restore error %v does not wrap ErrInvalidCheckpoint", err)
			}
			after, _ := tk.snapshot()
			if !bytes.Equal(before, after) {
				t.Fatal("a refused state changed the task")
			}
			return
		}
		again, err := tk.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		other, _ := p.newTask(topic, 0)
		if err := other.restore(again); err != nil {
			t.Fatalf("a state the task wrote does not restore: %v", err)
		}
		if third, _ := other.snapshot(); !bytes.Equal(again, third) {
			t.Fatal("restore then snapshot is not stable")
		}
	})
}

func TestTaskStateRoundTrips(t *testing.T) {
	p := fuzzProcessor(t)
	input, rekeyed := snapshots(t, p)
	for name, c := range map[string]struct {
		topic string
		state []byte
	}{"input": {p.cfg.Topic, input}, "repartition": {"in.repartition", rekeyed}} {
		tk, err := p.newTask(c.topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.restore(c.state); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := tk.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, c.state) {
			t.Errorf("%s: the restored task encodes differently", name)
		}
	}
	// Each task kind refuses the other's state, and a truncated one.
	tk, _ := p.newTask(p.cfg.Topic, 0)
	for _, bad := range [][]byte{rekeyed, input[:len(input)-1], nil} {
		if err := tk.restore(bad); !errors.Is(err, ErrInvalidCheckpoint) {
			t.Errorf("restore of %d bytes: %v, want ErrInvalidCheckpoint", len(bad), err)
		}
	}
}

// testInput is msg as a task's input, without a partition or offset.
func testInput(msg *message.Message) *input { return &input{payload: msg.Payload, md: msg.Metadata} }

// A message that arrives while the processor stops goes through a
// Watermill router as the processor runs it: the handler refuses it with an
// error that is ErrShuttingDown and context.Canceled, the router nacks it
// (it is delivered again, to the next owner or after a restart), applies
// nothing and logs no error.
func TestHandlerRefusesQuietlyWhileStopping(t *testing.T) {
	p := fuzzProcessor(t)
	p.draining.Store(true)
	msg := message.NewMessage("m", []byte(`{"timestamp":"2026-11-26T10:00:00Z","eventType":"login_success","userId":"u","severity":"low"}`))
	var refused error
	handler := p.handler(p.cfg.Topic)
	logger := &errorLog{}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: time.Second}, logger)
	require.NoError(t, err)
	router.AddNoPublisherHandler("h", p.cfg.Topic, oneMessage{msg}, func(m *message.Message) error {
		refused = handler(m)
		return refused
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- router.Run(ctx) }()
	select {
	case <-msg.Nacked():
	case <-msg.Acked():
		t.Fatal("acked")
	case <-time.After(10 * time.Second):
		t.Fatal("neither acked nor nacked in 10 s")
	}
	require.NoError(t, router.Close())
	require.NoError(t, <-runErr)
	require.ErrorIs(t, refused, ErrShuttingDown)
	require.ErrorIs(t, refused, context.Canceled)
	require.Equal(t, "pipeline: shutting down: context canceled", refused.Error())
	require.Empty(t, logger.errors())
	require.Empty(t, p.taskList())
}

// oneMessage is a subscriber that delivers one message and closes its
// channel when the subscription's context ends.
type oneMessage struct{ msg *message.Message }

func (s oneMessage) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	c := make(chan *message.Message, 1)
	c <- s.msg
	go func() { <-ctx.Done(); close(c) }()
	return c, nil
}

func (oneMessage) Close() error { return nil }

// errorLog is a Watermill logger that keeps what is logged as an error.
type errorLog struct {
	watermill.NopLogger
	mu   sync.Mutex
	errs []string
}

func (l *errorLog) Error(msg string, err error, _ watermill.LogFields) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, msg+": "+err.Error())
}

func (l *errorLog) With(watermill.LogFields) watermill.LoggerAdapter { return l }

func (l *errorLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}
