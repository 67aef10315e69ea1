package pipeline_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/pipeline"
)

// TestGlobalViewCombinesProcessors runs two processors, each on the users
// of "its" partitions, and checks that a GlobalView fed their partials
// shows what one processor sees from all events.
func TestGlobalViewCombinesProcessors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"login_success", "login_failed", "file_access", "api_call", "logout", "mfa_challenge"}
	var events []rdr.Event
	for i := range 6000 {
		u := rng.IntN(300)
		events = append(events, rdr.Event{
			Time:     t0.Add(time.Duration(i) * 3 * time.Millisecond), // 18 s of traffic
			Type:     types[rng.IntN(len(types))],
			UserID:   fmt.Sprintf("user-%03d", u),
			IP:       netip.AddrFrom4([4]byte{10, 0, byte(u / 256), byte(u)}),
			Severity: rdr.Severity(1 + rng.IntN(4)),
		})
	}
	clock := rdr.NewFakeClock(t0.Add(5 * time.Minute))
	partials := gochannel.NewGoChannel(gochannel.Config{Persistent: true, OutputChannelBuffer: 4096}, watermill.NopLogger{})
	defer partials.Close()
	view, err := pipeline.NewGlobalView(pipeline.GlobalViewConfig{Subscriber: partials, Topic: "partials"})
	require.NoError(t, err)
	viewDone := make(chan error, 1)
	go func() { viewDone <- view.Run(context.Background()) }()
	defer func() {
		require.NoError(t, view.Close()) // stops Run and closes the subscriber
		require.NoError(t, <-viewDone)
		assert.ErrorIs(t, view.Run(context.Background()), pipeline.ErrClosed)
		assert.EqualError(t, partials.Publish("partials", message.NewMessage("x", nil)), "Pub/Sub closed", "the view closed its subscriber")
	}()

	start := func(instance string) (*pipeline.Processor, *gochannel.GoChannel, chan error) {
		in := gochannel.NewGoChannel(gochannel.Config{Persistent: true, BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
		t.Cleanup(func() { in.Close() })
		cfg := pipeline.Config{Subscriber: in, Clock: clock, Tick: time.Hour}
		if instance != "" {
			// Each processor stands for a Kafka partition of its own: the
			// view keeps one source per partition.
			partition := int32(instance[0] - 'a')
			cfg.Partition = func(*message.Message) (int32, int64, bool) { return partition, 0, false }
			cfg.Publisher, cfg.PartialsTopic = partials, "partials"
		}
		p, err := pipeline.New(cfg)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- p.Run(context.Background()) }()
		<-p.Running()
		return p, in, done
	}
	send := func(in *gochannel.GoChannel, evs []rdr.Event) {
		for i := 0; i < len(evs); i += 100 {
			var batch []byte
			for _, ev := range evs[i:min(i+100, len(evs))] {
				batch = append(rdr.AppendJSON(batch, ev), '\n')
			}
			require.NoError(t, in.Publish(pipeline.DefaultTopic, message.NewMessage(watermill.NewUUID(), batch)))
		}
	}

	// The reference: one processor, all events.
	single, singleIn, singleDone := start("")
	send(singleIn, events)
	// The group: users split by hash, as Kafka's partitioner does.
	var part [2][]rdr.Event
	for _, ev := range events {
		h := fnv.New32a()
		h.Write([]byte(ev.UserID))
		part[h.Sum32()%2] = append(part[h.Sum32()%2], ev)
	}
	require.NotEmpty(t, part[0])
	require.NotEmpty(t, part[1])
	a, aIn, aDone := start("a")
	b, bIn, bDone := start("b")
	send(aIn, part[0])
	send(bIn, part[1])
	for _, p := range []struct {
		proc *pipeline.Processor
		done chan error
	}{{single, singleDone}, {a, aDone}, {b, bDone}} {
		require.NoError(t, p.proc.Close()) // fires every open window
		require.NoError(t, <-p.done)
	}
	sa, sb := a.Stats(), b.Stats()
	assert.Equal(t, uint64(len(part[0])), sa.Events)
	assert.Equal(t, uint64(len(part[1])), sb.Events)
	wantPartials := sa.Windows + sa.Updates + sb.Windows + sb.Updates
	deadline := time.Now().Add(10 * time.Second)
	for view.Received() < wantPartials {
		require.True(t, time.Now().Before(deadline), "view got %d partials, want %d", view.Received(), wantPartials)
		time.Sleep(5 * time.Millisecond)
	}
	assert.Zero(t, view.Refused())

	from, to := t0, t0.Add(time.Minute)
	want, err := single.Metrics(from, to)
	require.NoError(t, err)
	got, err := view.Metrics(from, to)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(events)), want.TotalEvents)
	assert.Equal(t, want.TotalEvents, got.TotalEvents)
	assert.Equal(t, want.ByType, got.ByType)
	assert.Equal(t, want.BySeverity, got.BySeverity)
	assert.Equal(t, want.TopEventTypes, got.TopEventTypes)
	assert.Equal(t, uint64(300), want.ActiveUsers)
	assert.Equal(t, want.ActiveUsers, got.ActiveUsers) // disjoint users add up exactly
	assert.Len(t, view.Sources(), 2)
}
