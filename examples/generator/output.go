package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rdr-go/rdr/examples/internal/traffic"
	"github.com/rdr-go/rdr/pipeline"
)

// kafkaOutput groups each batch by the partition its users hash to, so
// that one record holds the NDJSON events of one partition and is keyed by
// one of its users: every user's events stay on one partition, as the
// processor's scale-out relies on. Records go out on several producers at
// once, each partition's always on the same one, so that they stay in
// order (a user's failed logins before the success, event time going
// forward within a partition).
type kafkaOutput struct {
	pub        message.Publisher
	topic      string
	partitions int32
	work       []chan *message.Message // one per producer; partition p uses work[p%len(work)]
	next       int                     // the producer of the next unkeyed record
	wg         sync.WaitGroup
	mu         sync.Mutex
	err        error
}

func newKafkaOutput(brokers []string, topic string, workers int) (*kafkaOutput, error) {
	cfg := pipeline.KafkaConfig{Brokers: brokers, ClientID: "rdr-generator"}
	pub, err := pipeline.NewKafkaPublisher(cfg, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	n, err := pipeline.TopicPartitions(cfg, topic)
	if err != nil {
		pub.Close()
		return nil, err
	}
	k := &kafkaOutput{pub: pub, topic: topic, partitions: n, work: make([]chan *message.Message, max(workers, 1))}
	for i := range k.work {
		k.work[i] = make(chan *message.Message, 1)
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			for m := range k.work[i] {
				if err := pub.Publish(topic, m); err != nil {
					k.mu.Lock()
					k.err = errors.Join(k.err, err)
					k.mu.Unlock()
				}
			}
		}()
	}
	return k, nil
}

func (k *kafkaOutput) Send(ctx context.Context, batch []traffic.Record) (int, error) {
	k.mu.Lock()
	err := k.err
	k.mu.Unlock()
	if err != nil {
		return 0, err
	}
	bufs := make([][]byte, k.partitions)
	keys := make([]string, k.partitions)
	var loose [][]byte // invalid records: no user to key by
	for _, r := range batch {
		if r.Invalid != "" {
			loose = append(loose, r.JSON)
			continue
		}
		p := pipeline.PartitionOf(r.Event.UserID, k.partitions)
		if keys[p] == "" {
			keys[p] = r.Event.UserID
		}
		bufs[p] = append(append(bufs[p], r.JSON...), '\n')
	}
	sent := 0
	send := func(payload []byte, key string, worker int) error {
		m := message.NewMessage(watermill.NewUUID(), payload)
		if key != "" {
			m.Metadata.Set(pipeline.MetaPartitionKey, key)
		}
		select {
		case k.work[worker] <- m:
			sent++
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for p, b := range bufs {
		if len(b) > 0 {
			if err := send(b, keys[p], p%len(k.work)); err != nil {
				return sent, err
			}
		}
	}
	for _, b := range loose {
		k.next = (k.next + 1) % len(k.work)
		if err := send(b, "", k.next); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (k *kafkaOutput) Close() error {
	for _, w := range k.work {
		close(w)
	}
	k.wg.Wait()
	return errors.Join(k.err, k.pub.Close())
}

// httpOutput posts each batch as NDJSON.
type httpOutput struct {
	url, token string
	client     *http.Client
}

func newHTTPOutput(url, token string) *httpOutput {
	return &httpOutput{url: url, token: token, client: &http.Client{Timeout: 30 * time.Second}}
}

func (h *httpOutput) Send(ctx context.Context, batch []traffic.Record) (int, error) {
	var body bytes.Buffer
	for _, r := range batch {
		body.Write(r.JSON)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, &body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	// 400 is expected when a batch holds only invalid records.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
		return 1, fmt.Errorf("POST %s: %s: %s", h.url, resp.Status, reply)
	}
	return 1, nil
}

func (h *httpOutput) Close() error { return nil }
