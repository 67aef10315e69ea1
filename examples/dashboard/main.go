// Command dashboard runs the whole rdr system in one binary: the processor
// (windows, aggregation, detection), the HTTP API, the WebSocket live view
// and the React dashboard.
//
// With no flags it runs embedded — Watermill's GoChannel instead of Kafka,
// a built-in traffic generator with periodic attacks, the default detection
// rules and an in-memory store — so `go run ./examples/dashboard` is all a
// new user needs. Flags (or RDR_* environment variables) switch to real
// services: -kafka-brokers for Kafka, -influx-url for InfluxDB.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/rdr-go/rdr"
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/broadcast"
	"github.com/rdr-go/rdr/examples/internal/traffic"
	"github.com/rdr-go/rdr/pipeline"
	"github.com/rdr-go/rdr/sink"
)

// options are the command line, each flag with an RDR_* variable.
type options struct {
	addr          string
	token         string
	origins       string
	kafkaBrokers  string
	kafkaGroup    string
	topic         string
	partialsTopic string
	checkpoints   string
	instanceID    string
	repartition   bool
	unkeyed       bool
	checkpointInt time.Duration
	outageGrace   time.Duration
	influxURL     string
	influxToken   string
	influxOrg     string
	influxBucket  string
	influxRollUp  bool
	instance      string
	rules         string
	sigmaMapping  string
	rulesTests    string
	rulesWatch    time.Duration
	generate      bool
	rate          float64
	seed          uint64
	attackEvery   time.Duration
	invalidEvery  int
	maxBody       int64
	lateness      time.Duration
	outOfOrder    time.Duration
	idleTimeout   time.Duration
	queueBytes    int64
	memWindows    int
	keepRefused   int
	replay        string
	replayExit    bool
	progress      io.Writer // where -replay reports; nil: stderr (not a flag)
	logLevel      string
	cpuProfile    string

	// silenceRefresh is how often silences are read back from InfluxDB
	// (not a flag; default defaultSilenceRefresh).
	silenceRefresh time.Duration
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func parseFlags(args []string) (options, error) { return parseFlagsTo(args, os.Stderr) }

func parseFlagsTo(args []string, output io.Writer) (options, error) {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(output)
	var o options
	// A variable that is set (not empty) but does not parse is an error,
	// named, not a silent fall back to the default.
	var envErrs []error
	envParse := func(name, want string, parse func(string) error) {
		if v := os.Getenv(name); v != "" { // set and empty is unset, as for the string variables
			if err := parse(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: want %s", name, v, want))
			}
		}
	}
	envBool := func(name string, def bool) bool {
		envParse(name, "true or false", func(v string) (err error) { def, err = strconv.ParseBool(v); return err })
		return def
	}
	envFloat := func(name string, def float64) float64 {
		envParse(name, "a number", func(v string) (err error) { def, err = strconv.ParseFloat(v, 64); return err })
		return def
	}
	// Durations, flags and variables alike, take rdr.ParseDuration's
	// syntax: Go's plus days ("7d", "1d12h").
	durVar := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		envParse(envName, "a duration like 30s, 5m, 1h30m or 7d", func(v string) (err error) { def, err = rdr.ParseDuration(v); return err })
		*p = def
		fs.Var((*rdr.DurationValue)(p), name, usage+"; a `duration` like 30s, 5m or 1d")
	}
	fs.StringVar(&o.addr, "addr", env("RDR_ADDR", "127.0.0.1:8080"), "listen address (RDR_ADDR)")
	fs.StringVar(&o.token, "token", env("RDR_TOKEN", ""), "bearer token required by the API and the WebSocket; empty: none (RDR_TOKEN)")
	fs.StringVar(&o.origins, "origins", env("RDR_ALLOWED_ORIGINS", ""), "comma-separated extra Origin patterns allowed on the WebSocket, e.g. dashboard.example.com (RDR_ALLOWED_ORIGINS)")
	fs.StringVar(&o.kafkaBrokers, "kafka-brokers", env("RDR_KAFKA_BROKERS", ""), "comma-separated Kafka brokers; empty: embedded GoChannel Pub/Sub (RDR_KAFKA_BROKERS)")
	fs.StringVar(&o.kafkaGroup, "kafka-group", env("RDR_KAFKA_GROUP", pipeline.DefaultConsumerGroup), "Kafka consumer group (RDR_KAFKA_GROUP)")
	fs.StringVar(&o.topic, "topic", env("RDR_TOPIC", pipeline.DefaultTopic), "input topic; alerts, dead letters and late events go to security-alerts, TOPIC.dlq and TOPIC.late (RDR_TOPIC)")
	fs.StringVar(&o.partialsTopic, "partials-topic", env("RDR_PARTIALS_TOPIC", "rdr-partials"), "Kafka topic where processors share window partials for the global view (RDR_PARTIALS_TOPIC)")
	fs.StringVar(&o.instanceID, "kafka-instance-id", env("RDR_KAFKA_INSTANCE_ID", ""), "static consumer-group membership: a processor restarted with the same id gets its partitions back without a rebalance; one per running processor; empty: dynamic (RDR_KAFKA_INSTANCE_ID)")
	fs.BoolVar(&o.repartition, "repartition", envBool("RDR_REPARTITION", true), "with Kafka: re-key the rules grouped by another field than userId (password-spraying, by IP) through the topic TOPIC.repartition, so each sees every partition's events (RDR_REPARTITION)")
	fs.BoolVar(&o.unkeyed, "unkeyed-input", envBool("RDR_UNKEYED_INPUT", false), "with Kafka: the input topic is not keyed by userId, so every rule, the per-user ones too, is re-keyed through TOPIC.repartition (RDR_UNKEYED_INPUT)")
	fs.StringVar(&o.checkpoints, "checkpoint-topic", env("RDR_CHECKPOINT_TOPIC", pipeline.DefaultCheckpointTopic), "compacted Kafka topic of the processors' checkpoints (state with offsets, so a crash, restart or rebalance resumes exactly); empty: none (RDR_CHECKPOINT_TOPIC)")
	durVar(&o.outageGrace, "kafka-outage-grace", "RDR_KAFKA_OUTAGE_GRACE", 30*time.Second, "after the broker was out of reach, how long no partition counts as idle once it answers again, so that producers that buffered meanwhile deliver before the watermark follows the clock; negative: none (RDR_KAFKA_OUTAGE_GRACE)")
	durVar(&o.checkpointInt, "checkpoint-interval", "RDR_CHECKPOINT_INTERVAL", 5*time.Second, "how often each partition's state is checkpointed (RDR_CHECKPOINT_INTERVAL)")
	fs.StringVar(&o.influxURL, "influx-url", env("RDR_INFLUX_URL", ""), "InfluxDB URL; empty: in-memory history (RDR_INFLUX_URL)")
	fs.StringVar(&o.influxToken, "influx-token", env("RDR_INFLUX_TOKEN", ""), "InfluxDB token; for 1.8: user:password (RDR_INFLUX_TOKEN)")
	fs.StringVar(&o.influxOrg, "influx-org", env("RDR_INFLUX_ORG", ""), "InfluxDB organisation; ignored by 1.8 (RDR_INFLUX_ORG)")
	fs.StringVar(&o.influxBucket, "influx-bucket", env("RDR_INFLUX_BUCKET", "rdr"), "InfluxDB bucket; for 1.8: database/retention-policy (RDR_INFLUX_BUCKET)")
	fs.BoolVar(&o.influxRollUp, "influx-rollup", true, "also write 1-minute roll-ups to InfluxDB and read long history from them")
	fs.StringVar(&o.instance, "instance", env("RDR_INSTANCE", ""), "this processor's name as a Kafka client; default: host name (RDR_INSTANCE)")
	fs.StringVar(&o.rules, "rules", env("RDR_RULES", ""), "comma-separated rule files, rdr's and Sigma's (detection and correlation rules); empty: the default rule set; reloaded on SIGHUP and POST /api/rules/reload (RDR_RULES)")
	fs.StringVar(&o.sigmaMapping, "sigma-mapping", env("RDR_SIGMA_MAPPING", ""), "the field mapping for Sigma rule files; empty: rdr's own events (sigma.DefaultMapping) (RDR_SIGMA_MAPPING)")
	fs.StringVar(&o.rulesTests, "rules-tests", env("RDR_RULES_TESTS", ""), "comma-separated rule test files every rule set must pass, at the start and at each reload (RDR_RULES_TESTS)")
	durVar(&o.rulesWatch, "rules-watch", "RDR_RULES_WATCH", 0, "reload the rules when a rule, mapping or test file changes, checking this often; 0: only on SIGHUP and the API (RDR_RULES_WATCH)")
	fs.BoolVar(&o.generate, "generate", envBool("RDR_GENERATE", true), "run the built-in traffic generator (RDR_GENERATE)")
	fs.Float64Var(&o.rate, "rate", envFloat("RDR_GENERATE_RATE", 200), "generator: benign events per second (RDR_GENERATE_RATE)")
	fs.Uint64Var(&o.seed, "seed", uint64(envFloat("RDR_GENERATE_SEED", 1)), "generator: random seed (RDR_GENERATE_SEED)")
	durVar(&o.attackEvery, "attack-every", "RDR_ATTACK_EVERY", 20*time.Second, "generator: time between injected attacks; negative: none (RDR_ATTACK_EVERY)")
	fs.IntVar(&o.invalidEvery, "invalid-every", int(envFloat("RDR_INVALID_EVERY", 1000)), "generator: every n-th record is invalid, to exercise the dead-letter path; 0: none (RDR_INVALID_EVERY)")
	fs.Int64Var(&o.maxBody, "max-body", int64(envFloat("RDR_MAX_BODY", 1<<20)), "largest POST /api/events body, bytes (RDR_MAX_BODY)")
	durVar(&o.lateness, "lateness", "RDR_ALLOWED_LATENESS", 10*time.Second, "allowed lateness of windows (RDR_ALLOWED_LATENESS)")
	durVar(&o.outOfOrder, "out-of-orderness", "RDR_OUT_OF_ORDERNESS", time.Second, "bounded out-of-orderness of each partition (RDR_OUT_OF_ORDERNESS)")
	durVar(&o.idleTimeout, "idle-timeout", "RDR_IDLE_TIMEOUT", 5*time.Second, "a partition silent this long stops holding the watermark; all silent: the watermark follows the clock (RDR_IDLE_TIMEOUT)")
	fs.Int64Var(&o.queueBytes, "queue-bytes", int64(envFloat("RDR_QUEUE_BYTES", pipeline.DefaultQueueBytes)), "embedded mode: bytes of accepted events held in order before the processor applies them; when full, POST /api/events answers 503 with Retry-After (RDR_QUEUE_BYTES)")
	fs.IntVar(&o.memWindows, "memory-windows", int(envFloat("RDR_MEMORY_WINDOWS", sink.DefaultMaxWindows)), "window results the in-memory history keeps (one per partition and window), the newest; 3600 is an hour of 1-second windows of one partition (RDR_MEMORY_WINDOWS)")
	fs.IntVar(&o.keepRefused, "keep-refused", int(envFloat("RDR_KEEP_REFUSED", 1000)), "how many of the newest dead letters and late events are kept for GET /api/deadletters and /api/late (all are counted) (RDR_KEEP_REFUSED)")
	fs.StringVar(&o.replay, "replay", env("RDR_REPLAY", ""), "backfill: read NDJSON events from this file (- for stdin) into the input, by event time only (no generator, the watermark never follows the clock), with progress on stderr (RDR_REPLAY)")
	fs.BoolVar(&o.replayExit, "replay-exit", envBool("RDR_REPLAY_EXIT", false), "with -replay: stop once the file is applied, firing the last windows (RDR_REPLAY_EXIT)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", env("RDR_CPUPROFILE", ""), "write a CPU profile of the whole run to this file, for go tool pprof (RDR_CPUPROFILE)")
	fs.StringVar(&o.logLevel, "log-level", env("RDR_LOG_LEVEL", "info"), "debug, info, warn or error (RDR_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: dashboard [flags]\n\nRuns the rdr processor, API, live WebSocket and dashboard. With no flags: embedded mode\n(in-process Pub/Sub, built-in generator, in-memory history). Every flag has an environment variable.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := errors.Join(envErrs...); err != nil {
		fmt.Fprintln(fs.Output(), "dashboard: environment:", err)
		return o, fmt.Errorf("environment: %w", err)
	}
	if o.instance == "" {
		o.instance, _ = os.Hostname()
	}
	if o.replay != "" {
		o.generate = false
	}
	o.silenceRefresh = defaultSilenceRefresh
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard: -log-level:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		logger.Error("dashboard: -cpuprofile", "err", err)
		os.Exit(2)
	}
	err = run(ctx, o, logger, nil)
	if perr := stopProfile(); perr != nil {
		logger.Error("dashboard: -cpuprofile", "err", perr)
	}
	if err != nil {
		logger.Error("dashboard stopped", "err", err)
		os.Exit(1)
	}
}

// startCPUProfile starts a CPU profile to path ("" for none) and returns
// what stops it and closes the file.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// errStopped ends the run's errgroup without being an error: the
// processor or server stopped on its own, or a -replay-exit replay ended.
var errStopped = errors.New("stopped")

// alertLookback is how far back a starting dashboard loads alerts (by when
// they first fired) from InfluxDB.
const alertLookback = 24 * time.Hour

// run starts everything and blocks until ctx ends. ready, if not nil, gets
// the listening address once the server is up.
func run(ctx context.Context, o options, logger *slog.Logger, ready chan<- string) error {
	clock := rdr.SystemClock
	wlog := watermill.NewSlogLogger(logger)
	ruleSet := &ruleSet{mapping: o.sigmaMapping, clock: clock, logger: logger}
	if o.rules != "" {
		ruleSet.files = strings.Split(o.rules, ",")
	}
	if o.rulesTests != "" {
		ruleSet.tests = strings.Split(o.rulesTests, ",")
	}
	rules, err := ruleSet.start()
	if err != nil {
		return err
	}
	ruleCount := ruleSet.last.Rules

	// Input and side outputs: Kafka, or an in-process GoChannel. With
	// Kafka, processors also publish window partials, and a global view
	// combines those of every processor in the consumer group.
	var sub, repartitionSub message.Subscriber
	var pub message.Publisher // the processor's outputs
	var input inputFunc       // the input topic's: POST /api/events, the generator, -replay
	var queue *pipeline.Queue // embedded mode's input
	repartitionTopic := ""
	var view *pipeline.GlobalView
	partitions := int32(1)
	partialsTopic := ""
	var checkpoints pipeline.CheckpointStore
	mode := "embedded"
	if o.kafkaBrokers != "" {
		mode = "kafka"
		kc := pipeline.KafkaConfig{Brokers: strings.Split(o.kafkaBrokers, ","), ConsumerGroup: o.kafkaGroup, ClientID: "rdr-" + o.instance, InstanceID: o.instanceID, OutageGrace: o.outageGrace}
		ks, err := pipeline.NewKafkaSubscriber(kc, wlog)
		if err != nil {
			return err
		}
		kp, err := pipeline.NewKafkaPublisher(kc, wlog)
		if err != nil {
			return err
		}
		defer kp.Close()
		sub, pub = ks, kp
		// Synchronous, acks=all: a POST answers once the broker has the events.
		input = func(_ context.Context, _ bool, msgs ...*message.Message) error { return kp.Publish(o.topic, msgs...) }
		vs, err := pipeline.NewKafkaViewSubscriber(kc, wlog)
		if err != nil {
			return err
		}
		partialsTopic = o.partialsTopic
		if view, err = pipeline.NewGlobalView(pipeline.GlobalViewConfig{Subscriber: vs, Topic: partialsTopic, Logger: wlog}); err != nil {
			_ = vs.Close()
			return err
		}
		defer func() { _ = view.Close() }() // the view owns vs; a second Close is a no-op
		if partitions, err = pipeline.TopicPartitions(kc, o.topic); err != nil {
			return err
		}
		if o.repartition {
			repartitionTopic = o.topic + ".repartition"
			if err := pipeline.CreateTopic(kc, repartitionTopic, partitions); err != nil {
				return err
			}
			if repartitionSub, err = pipeline.NewKafkaSubscriber(pipeline.RepartitionKafkaConfig(kc), wlog); err != nil {
				return err
			}
		}
		if o.checkpoints != "" {
			if err := pipeline.CreateCheckpointTopic(kc, o.checkpoints, partitions); err != nil {
				return err
			}
			kcp, err := pipeline.NewKafkaCheckpoints(pipeline.KafkaCheckpointsConfig{Kafka: kc, Topic: o.checkpoints})
			if err != nil {
				return err
			}
			defer kcp.Close()
			checkpoints = kcp
		}
	} else {
		// The input is a Queue, not a GoChannel: GoChannel lets a later
		// Publish overtake an earlier one (see pipeline.Queue).
		if o.queueBytes > 0 && o.queueBytes < o.maxBody {
			// A body the queue can never hold would be answered 503 for ever.
			return fmt.Errorf("-queue-bytes (%d) must be at least -max-body (%d)", o.queueBytes, o.maxBody)
		}
		q, err := pipeline.NewQueue(pipeline.QueueConfig{MaxBytes: o.queueBytes})
		if err != nil {
			return fmt.Errorf("-queue-bytes: %w", err)
		}
		queue = q
		defer q.Close()
		gc := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 4096}, wlog)
		defer gc.Close()
		sub, pub = q, gc
		input = func(ctx context.Context, wait bool, msgs ...*message.Message) error {
			if wait {
				return q.PublishContext(ctx, o.topic, msgs...)
			}
			return q.TryPublish(o.topic, msgs...)
		}
	}
	// Dead letters and late events are kept (the newest) and counted, in
	// every mode: in embedded mode nothing else subscribes to them.
	side, err := pipeline.NewSideLog(pipeline.SideLogConfig{Topics: []string{o.topic + ".dlq", o.topic + ".late"}, Max: o.keepRefused, Next: pub, Clock: clock})
	if err != nil {
		return fmt.Errorf("-keep-refused: %w", err)
	}
	pub = side

	// Storage: memory always (the live history), InfluxDB when configured.
	mem, err := sink.NewMemory(sink.MemoryConfig{MaxWindows: o.memWindows})
	if err != nil {
		return err
	}
	// The memory store is the alert store of every mode; with InfluxDB,
	// acknowledgements are stored there too, first.
	book := &alerts{mem: mem, clock: clock}
	// Silences apply in the processor; with InfluxDB they are stored there
	// first, and loaded from it at the start.
	quiet := &silences{set: new(anomaly.Silences), clock: clock}
	sinks := []sink.Sink{mem}
	var history sink.HistoryReader = mem
	if o.influxURL != "" {
		// With checkpoints, every processor writes as one writer: a window
		// re-written after a crash or by the partition's next owner replaces
		// the earlier point. Without, each run writes as its own, so that a
		// restarted run's partial windows add to the last run's.
		writer := ""
		if checkpoints == nil {
			writer = o.instance + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		}
		influx, err := sink.NewInflux(sink.InfluxConfig{
			URL: o.influxURL, Token: o.influxToken, Org: o.influxOrg, Bucket: o.influxBucket,
			Writer: writer, RollUp: o.influxRollUp, Clock: clock, Logger: logger,
		})
		if err != nil {
			return err
		}
		sinks = append(sinks, influx)
		history, book.durable, quiet.durable = influx, influx, influx
		// Show the alerts of before a restart: InfluxDB has them.
		loadCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		recent, err := influx.RecentAlerts(loadCtx, clock.Now().Add(-alertLookback), maxListedAlerts)
		if err == nil {
			err = book.restore(loadCtx, recent)
		}
		cancel()
		if err != nil {
			logger.Warn("could not load recent alerts from InfluxDB", "err", err)
		} else {
			logger.Info("loaded recent alerts from InfluxDB", "alerts", len(recent), "since", alertLookback)
		}
		loadCtx, cancel = context.WithTimeout(ctx, 10*time.Second)
		if err := quiet.load(loadCtx, logger); err != nil {
			logger.Warn("could not load the silences from InfluxDB", "err", err)
		} else {
			logger.Info("loaded the silences from InfluxDB", "silences", quiet.set.Len())
		}
		cancel()
	}

	var origins []string
	if o.origins != "" {
		origins = strings.Split(o.origins, ",")
	}
	hub, err := broadcast.NewHub(broadcast.Config{Token: o.token, OriginPatterns: origins, Clock: clock})
	if err != nil {
		return err
	}
	defer hub.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerHubMetrics(reg, hub)

	dec, err := rdr.NewDecoder(rdr.DecoderConfig{Clock: clock})
	if err != nil {
		return err
	}
	proc, err := pipeline.New(pipeline.Config{
		Subscriber:            sub,
		Topic:                 o.topic,
		Publisher:             pub,
		DeadLetterTopic:       o.topic + ".dlq",
		LateTopic:             o.topic + ".late",
		Decoder:               dec,
		AllowedLateness:       o.lateness,
		OutOfOrderness:        o.outOfOrder,
		IdleTimeout:           o.idleTimeout,
		DisableIdleAdvance:    o.replay != "",
		PartialsTopic:         partialsTopic,
		Rules:                 rules,
		RepartitionTopic:      repartitionTopic,
		RepartitionSubscriber: repartitionSub,
		UnkeyedInput:          o.unkeyed && repartitionTopic != "",
		Checkpoints:           checkpoints,
		CheckpointInterval:    o.checkpointInt,
		Sinks:                 sinks,
		Hub:                   ackingHub{Broadcaster: hub, alerts: book},
		Silences:              quiet.set,
		View:                  viewOrNil(view),
		Clock:                 clock,
		Logger:                wlog,
		Registerer:            reg,
	})
	if err != nil {
		return err
	}
	ruleSet.mu.Lock()
	ruleSet.proc = proc
	ruleSet.mu.Unlock()
	var metrics pipeline.MetricsReader = proc
	if view != nil {
		metrics = view
		viewDone := make(chan error, 1)
		go func() { viewDone <- view.Run(context.WithoutCancel(ctx)) }()
		defer func() {
			if err := errors.Join(view.Close(), <-viewDone); err != nil { // Close also closes its Kafka subscriber
				logger.Error("global view", "err", err)
			}
		}()
	}

	a := &api{
		metrics: metrics,
		dec:     dec, proc: proc, alerts: book, history: history, input: input, side: side,
		topic: o.topic, partitions: partitions, dlqTopic: o.topic + ".dlq", lateTopic: o.topic + ".late", maxBody: o.maxBody, clock: clock, window: time.Second,
		ready: func() bool {
			select {
			case <-proc.Running():
				return true
			default:
				return false
			}
		},
	}
	registerAPIMetrics(reg, a)
	mux := http.NewServeMux()
	a.routes(mux)
	quiet.routes(mux)
	ruleSet.routes(mux)
	mux.Handle("GET /api/events/stream", hub)
	mux.Handle("POST /api/login", login(o.token))
	mux.Handle("DELETE /api/login", login(o.token))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /", staticHandler())
	handler := withToken(o.token, mux)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	// Every goroutine of the run is in g: the processor, the server and the
	// generator or replay. The first to fail (or a -replay-exit replay that
	// ends, or the processor stopping on its own) ends the run, as does ctx;
	// the stop below is ordered, and g.Wait collects the goroutines.
	g, gctx := errgroup.WithContext(ctx)
	var stopping atomic.Bool // set once the ordered stop begins: from then on, ending is no news
	ended := func() error {
		if stopping.Load() {
			return nil
		}
		return errStopped
	}
	g.Go(func() error {
		if err := proc.Run(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		return ended()
	})
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return ended()
	})
	if quiet.durable != nil && o.silenceRefresh > 0 {
		g.Go(func() error { quiet.refresh(gctx, o.silenceRefresh, logger); return nil })
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	g.Go(func() error { ruleSet.signals(gctx, hup); return nil })
	if o.rulesWatch > 0 {
		g.Go(func() error { ruleSet.watch(gctx, o.rulesWatch); return nil })
	}
	genCtx, stopGen := context.WithCancel(gctx)
	defer stopGen()
	g.Go(func() error {
		switch {
		case o.generate:
			runGenerator(genCtx, o, input, partitions, clock, logger)
		case o.replay != "":
			out := o.progress
			if out == nil {
				out = os.Stderr
			}
			if err := runReplay(genCtx, o.replay, a, queue, out); err != nil {
				return err
			}
			if o.replayExit {
				return errStopped
			}
			// Otherwise a replay's end is reported, and the dashboard goes
			// on serving its results.
		}
		return nil
	})

	// The token is never logged: a browser opens the page once with
	// ?token=…, exchanges it for a cookie and drops it from the URL.
	url := "http://" + ln.Addr().String() + "/"
	logger.Info("rdr dashboard running", "url", url, "mode", mode, "history", historyKind(o), "generator", o.generate, "rules", ruleCount, "token", o.token != "")
	if o.token != "" {
		fmt.Fprintf(os.Stderr, "\n  rdr dashboard: %s?token=<the -token value> (once; the browser keeps it in a cookie)\n\n", url)
	} else {
		fmt.Fprintf(os.Stderr, "\n  rdr dashboard: %s\n\n", url)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}

	<-gctx.Done()
	stopping.Store(true)
	logger.Info("shutting down")
	stopGen()
	var stopErrs []error
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// No more input: answer the requests in flight, then apply what was
	// accepted before stopping the processor ("accepted" means counted).
	_ = hub.Close()
	stopErrs = append(stopErrs, srv.Shutdown(shutdownCtx))
	if queue != nil {
		if err := queue.Drain(shutdownCtx); err != nil {
			logger.Error("accepted events not applied before the stop", "err", err)
			stopErrs = append(stopErrs, err)
		}
	}
	stopErrs = append(stopErrs, proc.Close())
	// The goroutines' first error comes first: it is why the run ended.
	if err := g.Wait(); err != nil && !errors.Is(err, errStopped) {
		return errors.Join(append([]error{err}, stopErrs...)...)
	}
	return errors.Join(stopErrs...)
}

// viewOrNil keeps a nil *GlobalView from becoming a non-nil interface.
func viewOrNil(v *pipeline.GlobalView) pipeline.MetricsReader {
	if v == nil {
		return nil
	}
	return v
}

func historyKind(o options) string {
	if o.influxURL != "" {
		return "influxdb"
	}
	return "memory"
}

// inputFunc hands messages to the input topic: with Kafka once the broker
// has acknowledged them; embedded, once queued in order (wait: waiting for
// room; otherwise pipeline.ErrQueueFull when there is none).
type inputFunc func(ctx context.Context, wait bool, msgs ...*message.Message) error

// runGenerator publishes synthetic traffic to the input topic in real time,
// a batch every 100 ms (one message per partition), until ctx ends.
func runGenerator(ctx context.Context, o options, input inputFunc, partitions int32, clock rdr.Clock, logger *slog.Logger) {
	g := traffic.New(traffic.Config{Seed: o.seed, Start: clock.Now(), Rate: o.rate, AttackEvery: o.attackEvery, InvalidEvery: o.invalidEvery})
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var next traffic.Record
	have := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := clock.Now()
		var events []rdr.Event
		var msgs []*message.Message
		for n := 0; n < 10_000; n++ {
			if !have {
				next, have = g.NextRecord(), true
			}
			if next.Invalid == "" && next.Event.Time.After(now) {
				break
			}
			if next.Invalid != "" { // to the dead-letter topic, through the processor
				msgs = append(msgs, message.NewMessage(watermill.NewUUID(), next.JSON))
			} else {
				events = append(events, next.Event)
			}
			have = false
		}
		msgs = append(msgs, pipeline.PartitionBatches(events, partitions)...)
		if len(msgs) == 0 {
			continue
		}
		if err := input(ctx, true, msgs...); err != nil && ctx.Err() == nil {
			logger.Warn("generator: publish failed", "err", err)
		}
	}
}
