package dev.rdr.peers.flink;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.flink.util.ParameterTool;

/**
 * The Flink peer of benchmarks/peers/run.sh. Reads the pre-filled topic from the earliest to the
 * latest offset (a bounded KafkaSource, so the job ends once the topic is read and the end of
 * input fires the last windows), parses each record's rdr event JSON (timestamp, eventType,
 * userId), assigns event time from "timestamp" with a bounded out-of-orderness watermark, and per
 * 1-second tumbling event-time window and user bucket (userId hash modulo --buckets, so that
 * distinct users add up over buckets) counts the events per type and the distinct userIds. Each
 * window's results go to InfluxDB 1.8 as line protocol over HTTP (/write), in batches:
 *
 * <pre>
 *   flink_events,bucket=B,eventType=T count=Ni START_NS
 *   flink_window,bucket=B total=Ni,active_users=Ni START_NS
 * </pre>
 *
 * Events later than the watermark are not dropped silently: they are counted (accumulator
 * "late") and printed at the end with the job's net runtime:
 *
 * <pre>
 *   flink-result net_runtime_ms=MS late=N
 * </pre>
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    ParameterTool p = ParameterTool.fromArgs(args);
    String brokers = p.getRequired("brokers");
    String topic = p.getRequired("topic");
    String group = p.getRequired("group");
    String influx = p.getRequired("influx-url");
    String db = p.getRequired("db");
    String rp = p.get("rp", "autogen");
    String user = p.get("user", "");
    String password = p.get("password", "");
    int parallelism = p.getInt("parallelism", 2);
    int buckets = p.getInt("buckets", 64);
    int batch = p.getInt("batch", 5000);
    Duration outOfOrder = Duration.ofMillis(p.getLong("out-of-orderness-ms", 3000));

    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(parallelism);

    KafkaSource<Ev> source =
        KafkaSource.<Ev>builder()
            .setBootstrapServers(brokers)
            .setTopics(topic)
            .setGroupId(group)
            .setClientIdPrefix(group)
            .setStartingOffsets(OffsetsInitializer.earliest())
            .setBounded(OffsetsInitializer.latest())
            .setValueOnlyDeserializer(new EventSchema())
            .build();
    WatermarkStrategy<Ev> watermarks =
        WatermarkStrategy.<Ev>forBoundedOutOfOrderness(outOfOrder)
            .withTimestampAssigner((ev, ts) -> ev.time);

    OutputTag<Ev> lateTag = new OutputTag<Ev>("late") {};
    SingleOutputStreamOperator<String> lines =
        env.fromSource(source, watermarks, "kafka " + topic)
            .keyBy(new Bucket(buckets))
            .window(TumblingEventTimeWindows.of(Duration.ofSeconds(1)))
            .sideOutputLateData(lateTag)
            .aggregate(new Count(), new Emit())
            .name("1s windows: counts per type, distinct users");
    lines.sinkTo(new InfluxSink(influx, db, rp, user, password, batch)).name("influxdb " + db);
    lines.getSideOutput(lateTag).flatMap(new CountLate()).sinkTo(new DiscardingSink<>());

    JobExecutionResult r = env.execute("rdr-peers " + topic);
    Long late = r.getAccumulatorResult("late");
    System.out.println(
        "flink-result net_runtime_ms=" + r.getNetRuntime() + " late=" + (late == null ? 0 : late));
  }

  /** One event: what the job reads of rdr's JSON. A Flink POJO. */
  public static final class Ev {
    public long time; // event time, Unix ms
    public String type;
    public String user;

    public Ev() {}
  }

  /** Reads timestamp, eventType and userId with Jackson's streaming parser; skips the rest. */
  static final class EventSchema implements DeserializationSchema<Ev> {
    private transient JsonFactory json;

    @Override
    public Ev deserialize(byte[] message) throws IOException {
      if (json == null) {
        json = new JsonFactory();
      }
      Ev ev = new Ev();
      String ts = null;
      try (JsonParser jp = json.createParser(message)) {
        if (jp.nextToken() != JsonToken.START_OBJECT) {
          throw new IOException("not a JSON object");
        }
        while (jp.nextToken() == JsonToken.FIELD_NAME) {
          String name = jp.currentName();
          JsonToken t = jp.nextToken();
          switch (name) {
            case "timestamp" -> ts = jp.getText();
            case "eventType" -> ev.type = jp.getText();
            case "userId" -> ev.user = jp.getText();
            default -> {
              if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                jp.skipChildren();
              }
            }
          }
        }
      }
      if (ts == null || ev.type == null || ev.user == null) {
        throw new IOException("event without timestamp, eventType or userId");
      }
      ev.time = Instant.parse(ts).toEpochMilli();
      return ev;
    }

    @Override
    public boolean isEndOfStream(Ev next) {
      return false;
    }

    @Override
    public TypeInformation<Ev> getProducedType() {
      return TypeInformation.of(Ev.class);
    }
  }

  /** The key: a bucket of users, so each user's events meet in one window instance. */
  static final class Bucket implements org.apache.flink.api.java.functions.KeySelector<Ev, Integer> {
    private final int n;

    Bucket(int n) {
      this.n = n;
    }

    @Override
    public Integer getKey(Ev ev) {
      return (ev.user.hashCode() & 0x7fffffff) % n;
    }
  }

  /** A window's state: events per type and the users seen. */
  public static final class Acc {
    public HashMap<String, long[]> perType = new HashMap<>();
    public HashSet<String> users = new HashSet<>();
    public long total;

    public Acc() {}
  }

  static final class Count implements AggregateFunction<Ev, Acc, Acc> {
    @Override
    public Acc createAccumulator() {
      return new Acc();
    }

    @Override
    public Acc add(Ev ev, Acc acc) {
      acc.perType.computeIfAbsent(ev.type, k -> new long[1])[0]++;
      acc.users.add(ev.user);
      acc.total++;
      return acc;
    }

    @Override
    public Acc getResult(Acc acc) {
      return acc;
    }

    @Override
    public Acc merge(Acc a, Acc b) {
      b.perType.forEach((k, v) -> a.perType.computeIfAbsent(k, x -> new long[1])[0] += v[0]);
      a.users.addAll(b.users);
      a.total += b.total;
      return a;
    }
  }

  /** Turns a fired window into its line-protocol lines. */
  static final class Emit extends ProcessWindowFunction<Acc, String, Integer, TimeWindow> {
    @Override
    public void process(Integer bucket, Context ctx, Iterable<Acc> in, Collector<String> out) {
      long ns = ctx.window().getStart() * 1_000_000L;
      for (Acc acc : in) {
        for (Map.Entry<String, long[]> e : acc.perType.entrySet()) {
          out.collect(
              "flink_events,bucket=" + bucket + ",eventType=" + escapeTag(e.getKey())
                  + " count=" + e.getValue()[0] + "i " + ns);
        }
        out.collect(
            "flink_window,bucket=" + bucket + " total=" + acc.total + "i,active_users="
                + acc.users.size() + "i " + ns);
      }
    }

    private static String escapeTag(String s) {
      return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ");
    }
  }

  /** Counts the late events into the "late" accumulator; emits nothing. */
  static final class CountLate extends RichFlatMapFunction<Ev, Ev> {
    private final LongCounter late = new LongCounter();

    @Override
    public void open(OpenContext ctx) {
      getRuntimeContext().addAccumulator("late", late);
    }

    @Override
    public void flatMap(Ev ev, Collector<Ev> out) {
      late.add(1);
    }
  }

  /** Writes line-protocol lines to InfluxDB 1.8's /write, batch lines a request. */
  static final class InfluxSink implements Sink<String> {
    private final String url;
    private final int batch;

    InfluxSink(String base, String db, String rp, String user, String password, int batch) {
      this.url =
          base.replaceAll("/+$", "") + "/write?precision=ns&db=" + enc(db) + "&rp=" + enc(rp)
              + (user.isEmpty() ? "" : "&u=" + enc(user) + "&p=" + enc(password));
      this.batch = batch;
    }

    private static String enc(String s) {
      return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    @Override
    public SinkWriter<String> createWriter(WriterInitContext ctx) {
      return new Writer(url, batch);
    }
  }

  static final class Writer implements SinkWriter<String> {
    private final URI uri;
    private final int batch;
    private final HttpClient http =
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final StringBuilder buf = new StringBuilder(1 << 20);
    private int lines;

    Writer(String url, int batch) {
      this.uri = URI.create(url);
      this.batch = batch;
    }

    @Override
    public void write(String line, Context ctx) throws IOException, InterruptedException {
      buf.append(line).append('\n');
      if (++lines >= batch) {
        send();
      }
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
      send();
    }

    @Override
    public void close() {}

    /** Posts the buffer; retries network errors and 5xx answers a few times, then fails the job. */
    private void send() throws IOException, InterruptedException {
      if (lines == 0) {
        return;
      }
      HttpRequest req =
          HttpRequest.newBuilder(uri)
              .timeout(Duration.ofSeconds(30))
              .header("Content-Type", "text/plain; charset=utf-8")
              .POST(HttpRequest.BodyPublishers.ofString(buf.toString()))
              .build();
      IOException last = null;
      for (int attempt = 0; attempt < 8; attempt++) {
        if (attempt > 0) {
          Thread.sleep(100L << Math.min(attempt, 5));
        }
        try {
          HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
          if (resp.statusCode() == 204) {
            buf.setLength(0);
            lines = 0;
            return;
          }
          last = new IOException("InfluxDB answered " + resp.statusCode() + ": " + resp.body());
          if (resp.statusCode() < 500) {
            break; // refused: retrying will not help
          }
        } catch (IOException e) {
          last = e;
        }
      }
      throw last;
    }
  }
}
