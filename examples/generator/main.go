// Command generator produces synthetic security events — benign traffic
// from a population of users plus injected attacks (brute force, brute
// force then success, credential stuffing, a new IP for a user, a first
// privilege change, a volume spike) — to Kafka or to the dashboard's HTTP
// ingest. Runs are reproducible from -seed, and -truth writes which attacks
// were injected, for which key and when, so detection can be checked.
//
//	go run ./examples/generator -kafka-brokers 127.0.0.1:9092 -rate 5000 -duration 1m
//	go run ./examples/generator -http http://127.0.0.1:8080/api/events -rate 200
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/examples/internal/traffic"
)

type options struct {
	kafkaBrokers string
	topic        string
	httpURL      string
	token        string
	rate         float64
	batch        int
	count        int
	duration     time.Duration
	users, ips   int
	seed         uint64
	attackEvery  time.Duration
	invalidEvery int
	truth        string
	fast         bool
	workers      int
}

func main() {
	var o options
	fs := flag.NewFlagSet("generator", flag.ContinueOnError)
	fs.StringVar(&o.kafkaBrokers, "kafka-brokers", os.Getenv("RDR_KAFKA_BROKERS"), "comma-separated Kafka brokers (RDR_KAFKA_BROKERS)")
	fs.StringVar(&o.topic, "topic", "security-events", "Kafka topic")
	fs.StringVar(&o.httpURL, "http", "", "POST batches to this URL (the dashboard's /api/events) instead of Kafka")
	fs.StringVar(&o.token, "token", os.Getenv("RDR_TOKEN"), "bearer token for -http (RDR_TOKEN)")
	fs.Float64Var(&o.rate, "rate", 1000, "benign events per second (event time; also the real-time pace unless -fast)")
	fs.IntVar(&o.batch, "batch", 500, "events per Kafka record or HTTP request, at most")
	fs.IntVar(&o.count, "count", 0, "stop after this many records; 0: no limit")
	fs.Var((*rdr.DurationValue)(&o.duration), "duration", "stop after this much event time, a `duration` like 30s, 5m or 1d; 0: no limit")
	fs.IntVar(&o.users, "users", 2000, "number of benign users")
	fs.IntVar(&o.ips, "ips", 400, "number of benign source IPs")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed and flags give the same events")
	o.attackEvery = 20 * time.Second
	fs.Var((*rdr.DurationValue)(&o.attackEvery), "attack-every", "event time between injected attacks, a `duration`; negative: none")
	fs.IntVar(&o.invalidEvery, "invalid-every", 0, "every n-th record is an invalid event; 0: none")
	fs.StringVar(&o.truth, "truth", "", "write the injected attacks as JSON to this file at the end")
	fs.BoolVar(&o.fast, "fast", false, "send as fast as possible instead of pacing to the wall clock (load tests)")
	fs.IntVar(&o.workers, "workers", 4, "concurrent Kafka producers")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if o.kafkaBrokers == "" && o.httpURL == "" {
		fmt.Fprintln(os.Stderr, "generator: set -kafka-brokers (or RDR_KAFKA_BROKERS) or -http")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var out output
	var err error
	if o.httpURL != "" {
		out = newHTTPOutput(o.httpURL, o.token)
	} else if out, err = newKafkaOutput(strings.Split(o.kafkaBrokers, ","), o.topic, o.workers); err != nil {
		logger.Error("generator", "err", err)
		os.Exit(1)
	}
	g := traffic.New(traffic.Config{Seed: o.seed, Start: time.Now().UTC(), Rate: o.rate, Users: o.users, IPs: o.ips,
		AttackEvery: o.attackEvery, InvalidEvery: o.invalidEvery})
	started := time.Now()
	sum, runErr := generate(ctx, g, out, o)
	if err := out.Close(); err != nil && runErr == nil {
		runErr = err
	}
	elapsed := time.Since(started)
	logger.Info("generator done", "records", sum.Records, "events", sum.Events, "invalid", sum.Invalid, "messages", sum.Messages,
		"attacks", len(g.Truth()), "elapsed", elapsed.Round(time.Millisecond), "events_per_s", int(float64(sum.Events)/elapsed.Seconds()))
	if o.truth != "" {
		if err := writeTruth(o.truth, g.Truth(), sum); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		logger.Error("generator", "err", runErr)
		os.Exit(1)
	}
}
