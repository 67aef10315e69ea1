#!/usr/bin/env bash
# Side by side: rdr's reference app, Telegraf and a small Flink job, one after the other, on the
# same pre-filled Kafka topic; each stores its counts in its own InfluxDB 1.8 database, the counts
# are checked against what was produced, and events/s are printed with the ratios. An untimed
# warm-up run of rdr on a topic of its own comes first, so that no system meets a cold broker.
#
#   benchmarks/peers/run.sh [-events N] [-out FILE.md] [-only "rdr telegraf flink"] [-keep]
#   benchmarks/peers/run.sh -build-only        build (or find cached) Telegraf and the Flink job
#
#   -events N     events in the topic (default 1000000), one a record, keyed by userId
#   -out FILE     also write the result table (markdown) to FILE
#   -only LIST    run only these systems (space or comma separated), in the order rdr telegraf flink
#   -keep         keep the topics and databases (default: deleted at exit)
#
# Services: with RDR_KAFKA_BROKERS and RDR_INFLUX_URL set (eval "$(scripts/services.sh env)"),
# those are used; otherwise scripts/services.sh starts Kafka and InfluxDB 1.8 (in
# RDR_SERVICES_DIR, as usual) and stops at exit what it started here.
# Builds: rdr's examples/dashboard is rebuilt every run (the code under test). Telegraf
# (Go module, custom build tags) and the Flink job (Maven) are cached in
# ${XDG_CACHE_HOME:-~/.cache}/rdr/peers/telegraf-VERSION and flink-job-VERSION, the Flink job
# keyed by a hash of benchmarks/peers/flink (a change there rebuilds).
# Logs, configs and the run's binaries go to RDR_PEERS_DIR [/tmp/rdr-peers-RUNID]; progress goes
# to stderr, the table to stdout. See benchmarks/peers/README.md.
#
# Environment (all optional): RDR_PEERS_TIMEOUT [1200] seconds each system may take;
# RDR_PEERS_CACHE [~/.cache/rdr/peers]; RDR_PEERS_DIR; RDR_INFLUX_TOKEN [rdr:rdr] (user:password);
# RDR_PEERS_TELEGRAF_UNDELIVERED [10000] Telegraf's kafka_consumer max_undelivered_messages;
# RDR_PEERS_WARMUP [-events, at most 1000000] events of the untimed warm-up run (the reference
# app on a topic of its own, so that the broker is warm for every system timed); 0: none.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVICES=$ROOT/scripts/services.sh

TELEGRAF_VERSION=v1.37.2
TELEGRAF_MODULE=github.com/influxdata/telegraf
# Telegraf's custom build: only these plugins are compiled (plugins/*/all/*.go build constraints).
TELEGRAF_TAGS=custom,inputs.kafka_consumer,parsers.json_v2,aggregators.valuecounter,outputs.influxdb
# The newest Kafka version the sarama of Telegraf 1.37.2 knows (sarama v1.46.3: MaxVersion
# V4_1_0_0). Telegraf's default (0.10.2.0) speaks protocol versions Kafka 4 no longer serves.
TELEGRAF_KAFKA_VERSION=4.1.0
FLINK_DIR=$HERE/flink
FLINK_VERSION=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' "$FLINK_DIR/pom.xml")
FLINK_KAFKA_VERSION=$(sed -n 's:.*<flink.kafka.version>\(.*\)</flink.kafka.version>.*:\1:p' "$FLINK_DIR/pom.xml")
FLINK_MAIN=dev.rdr.peers.flink.Main
# What Flink's own config.yaml passes to every JVM on Java 17 (env.java.opts.all).
FLINK_JAVA_OPTS="--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED"

CACHE=${RDR_PEERS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/rdr/peers}
TELEGRAF_CACHE=$CACHE/telegraf-${TELEGRAF_VERSION#v}
FLINK_CACHE=$CACHE/flink-job-$FLINK_VERSION
TIMEOUT=${RDR_PEERS_TIMEOUT:-1200}
TELEGRAF_UNDELIVERED=${RDR_PEERS_TELEGRAF_UNDELIVERED:-10000}
PARTITIONS=6

log() { printf '[peers] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

EVENTS=1000000 OUT='' ONLY="rdr telegraf flink" KEEP='' BUILD_ONLY= WARMUP=${RDR_PEERS_WARMUP:-}
while [ $# -gt 0 ]; do
  case $1 in
    -events|--events) EVENTS=${2:?}; shift 2 ;;
    -out|--out) OUT=${2:?}; shift 2 ;;
    -only|--only) ONLY=${2//,/ }; shift 2 ;;
    -keep|--keep) KEEP=1; shift ;;
    -build-only|--build-only) BUILD_ONLY=1; shift ;;
    -h|-help|--help) usage ;;
    *) log "unknown argument $1"; usage ;;
  esac
done
[[ $EVENTS =~ ^[1-9][0-9]*$ ]] || die "-events wants a positive integer, not '$EVENTS'"
WARMUP=${WARMUP:-$(( EVENTS < 1000000 ? EVENTS : 1000000 ))}
[[ $WARMUP =~ ^[0-9]+$ ]] || die "RDR_PEERS_WARMUP wants a count of events, not '$WARMUP'"
for s in $ONLY; do case $s in rdr|telegraf|flink) ;; *) die "-only: unknown system '$s'" ;; esac; done
wants() { [[ " $ONLY " == *" $1 "* ]]; }

need_cmd() { # need_cmd CMD DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  log "apt-get install $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >&2 \
    || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >&2; } \
    || die "could not install $2"
}
need_cmd curl curl
need_cmd jq jq
need_cmd go golang # a Go toolchain is expected on the machine; this is the last resort
command -v java >/dev/null 2>&1 || need_cmd java openjdk-17-jre-headless

# ---------------------------------------------------------------- clean-up

PIDS=()          # processes started here, ended at exit
STARTED=()       # services started here, stopped at exit
TOPICS=() DBS=() # made here, deleted at exit unless -keep
FILL=
cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -z "$KEEP" ]; then
    if [ "${#TOPICS[@]}" -gt 0 ] && [ -n "$FILL" ] && [ -x "$FILL" ]; then
      "$FILL" -brokers "$RDR_KAFKA_BROKERS" -delete "$(IFS=,; echo "${TOPICS[*]}")" \
        || log "could not delete the topics ${TOPICS[*]}"
    fi
    for i in "${DBS[@]}"; do influx_post "DROP DATABASE \"$i\"" >/dev/null 2>&1 || log "could not drop database $i"; done
    # the run's binaries (tens of MB); its logs stay
    if [ -n "${RUN_DIR:-}" ]; then rm -rf "${RUN_DIR:?}/bin" "${RUN_DIR:?}/flink-tmp"; fi
  elif [ "${#TOPICS[@]}" -gt 0 ]; then
    log "kept topics ${TOPICS[*]} and databases ${DBS[*]}"
  fi
  for i in "${STARTED[@]}"; do "$SERVICES" stop "$i" || true; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- builds

# telegraf_ok PATH: a Telegraf built from the module at TELEGRAF_VERSION with TELEGRAF_TAGS.
telegraf_ok() {
  [ -x "$1" ] || return 1
  "$1" --version 2>/dev/null | grep -qF "Telegraf ${TELEGRAF_VERSION#v}" || return 1
  local info
  info=$(go version -m "$1" 2>/dev/null) || return 1
  grep -qE "^[[:space:]]+mod[[:space:]]+${TELEGRAF_MODULE}[[:space:]]+${TELEGRAF_VERSION}([[:space:]]|$)" <<<"$info" \
    && grep -qE "^[[:space:]]+build[[:space:]]+-tags=${TELEGRAF_TAGS}\$" <<<"$info"
}

TELEGRAF='' TELEGRAF_BUILD=
build_telegraf() {
  local bin=$TELEGRAF_CACHE/telegraf t0
  if telegraf_ok "$bin"; then TELEGRAF=$bin TELEGRAF_BUILD="cached"; log "telegraf: cached $bin"; return 0; fi
  t0=$(now)
  log "building Telegraf $TELEGRAF_VERSION (go install $TELEGRAF_MODULE/cmd/telegraf@$TELEGRAF_VERSION, tags $TELEGRAF_TAGS)"
  mkdir -p "$TELEGRAF_CACHE"
  rm -rf "$TELEGRAF_CACHE/tmp"
  # go install PKG@VERSION builds with Telegraf's own go.mod (its versions, its godebug line),
  # as its release build does; -X internal.Version as its Makefile sets it; CGO off as there.
  if ! (cd / && env -u GOFLAGS GOBIN="$TELEGRAF_CACHE/tmp" CGO_ENABLED=0 GO111MODULE=on \
    go install -tags "$TELEGRAF_TAGS" -ldflags "-w -s -X $TELEGRAF_MODULE/internal.Version=${TELEGRAF_VERSION#v}" \
      "$TELEGRAF_MODULE/cmd/telegraf@$TELEGRAF_VERSION") >"$TELEGRAF_CACHE/build.log" 2>&1; then
    tail -n 30 "$TELEGRAF_CACHE/build.log" >&2
    die "go install telegraf failed (log: $TELEGRAF_CACHE/build.log)"
  fi
  telegraf_ok "$TELEGRAF_CACHE/tmp/telegraf" || die "$TELEGRAF_CACHE/tmp/telegraf is not Telegraf $TELEGRAF_VERSION with tags $TELEGRAF_TAGS"
  mv -f "$TELEGRAF_CACHE/tmp/telegraf" "$bin"
  rm -rf "$TELEGRAF_CACHE/tmp"
  TELEGRAF=$bin TELEGRAF_BUILD="built in $(since "$t0") s"
  log "telegraf: $TELEGRAF_BUILD: $bin"
}

flink_sum() { # a hash of the job's sources: pom.xml and src/
  (cd "$FLINK_DIR" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

FLINK_BUILD=
build_flink() {
  local sum stamp=$FLINK_CACHE/.complete t0
  sum=$(flink_sum)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -f "$FLINK_CACHE/rdr-peers-flink-job.jar" ]; then
    FLINK_BUILD="cached"; log "flink job: cached in $FLINK_CACHE (sources $sum)"; return 0
  fi
  need_cmd mvn maven
  t0=$(now)
  log "building the Flink $FLINK_VERSION job (mvn package, dependencies from Maven Central into $FLINK_CACHE/lib)"
  rm -rf "$FLINK_CACHE"
  mkdir -p "$FLINK_CACHE"
  if ! mvn -B -q -Dstyle.color=never -f "$FLINK_DIR/pom.xml" -Dpeers.build.dir="$FLINK_CACHE/build" \
    -Dpeers.lib.dir="$FLINK_CACHE/lib" package dependency:copy-dependencies >"$FLINK_CACHE/mvn.log" 2>&1; then
    tail -n 40 "$FLINK_CACHE/mvn.log" >&2
    die "mvn package failed (log: $FLINK_CACHE/mvn.log)"
  fi
  mv "$FLINK_CACHE/build/rdr-peers-flink-job.jar" "$FLINK_CACHE/"
  rm -rf "$FLINK_CACHE/build"
  [ -f "$FLINK_CACHE/lib/flink-runtime-$FLINK_VERSION.jar" ] || die "flink-runtime-$FLINK_VERSION.jar missing in $FLINK_CACHE/lib"
  echo "$sum" >"$stamp"
  FLINK_BUILD="built in $(since "$t0") s"
  log "flink job: $FLINK_BUILD: $FLINK_CACHE"
}

RDR_BUILD=
build_rdr() { # always: it is the code under test
  local t0
  t0=$(now)
  (cd "$ROOT" && go build -o "$RUN_DIR/bin/dashboard" ./examples/dashboard && go build -o "$RUN_DIR/bin/fill" ./benchmarks/peers/fill) \
    || die "go build of examples/dashboard or benchmarks/peers/fill failed"
  RDR_BUILD="built in $(since "$t0") s"
  log "rdr: dashboard and fill $RDR_BUILD ($RUN_DIR/bin)"
}

# One heavy build at a time (2 cores): sequentially.
if wants telegraf || [ -n "$BUILD_ONLY" ]; then build_telegraf; fi
if wants flink || [ -n "$BUILD_ONLY" ]; then build_flink; fi
if [ -n "$BUILD_ONLY" ]; then
  echo "telegraf: $TELEGRAF_CACHE/telegraf ($TELEGRAF_BUILD)"
  echo "flink job: $FLINK_CACHE ($FLINK_BUILD)"
  exit 0
fi
RUN_ID=$(date +%Y%m%d-%H%M%S)
RUN_DIR=${RDR_PEERS_DIR:-/tmp/rdr-peers-$RUN_ID}
mkdir -p "$RUN_DIR/bin"
build_rdr
FILL=$RUN_DIR/bin/fill

# ---------------------------------------------------------------- services

if [ -n "${RDR_KAFKA_BROKERS:-}" ] && [ -n "${RDR_INFLUX_URL:-}" ]; then
  log "using Kafka $RDR_KAFKA_BROKERS and InfluxDB $RDR_INFLUX_URL from the environment"
else
  if [ -n "${RDR_KAFKA_BROKERS:-}${RDR_INFLUX_URL:-}" ]; then
    log "only one of RDR_KAFKA_BROKERS and RDR_INFLUX_URL is set: both are ignored, services.sh (RDR_SERVICES_DIR ${RDR_SERVICES_DIR:-/tmp/rdr-services}) gives both"
  fi
  for s in kafka influxdb; do
    "$SERVICES" status "$s" >/dev/null 2>&1 || STARTED+=("$s")
    "$SERVICES" start "$s"
  done
  eval "$("$SERVICES" env 2>/dev/null)"
  if [ -z "${RDR_KAFKA_BROKERS:-}" ] || [ -z "${RDR_INFLUX_URL:-}" ]; then die "services.sh env gave no Kafka or InfluxDB"; fi
fi
TOKEN=${RDR_INFLUX_TOKEN:-rdr:rdr}
IUSER=${TOKEN%%:*} IPASS=${TOKEN#*:}
INFLUX=${RDR_INFLUX_URL%/}
influx_post() { # influx_post 'InfluxQL' : a statement that changes something
  curl -fsS --max-time 30 -XPOST "$INFLUX/query" --data-urlencode "u=$IUSER" --data-urlencode "p=$IPASS" --data-urlencode "q=$1"
}
influx_get() { # influx_get DB 'InfluxQL' : prints the JSON answer
  curl -fsS --max-time 30 -G "$INFLUX/query" --data-urlencode "u=$IUSER" --data-urlencode "p=$IPASS" \
    --data-urlencode "db=$1" --data-urlencode "q=$2"
}
new_db() { # new_db NAME
  influx_post "CREATE DATABASE \"$1\"" >/dev/null || die "CREATE DATABASE $1 failed"
  DBS+=("$1")
}
# per_type_sum DB MEASUREMENT FIELD: "TYPE COUNT" lines of sum(FIELD) grouped by the eventType tag
per_type_sum() {
  influx_get "$1" "SELECT sum(\"$3\") FROM \"$2\" GROUP BY \"eventType\"" \
    | jq -r '.results[0].series[]? | "\(.tags.eventType) \(.values[0][1])"' | LC_ALL=C sort
}
# telegraf_counts DB: "TYPE COUNT" lines from valuecounter's fields eventType_TYPE, summed
telegraf_counts() {
  influx_get "$1" 'SELECT sum(*) FROM "security_events"' \
    | jq -r '.results[0].series[0]? // empty | [.columns, .values[0]] | transpose[] | select(.[0] | startswith("sum_eventType_")) | "\(.[0] | sub("^sum_eventType_"; "")) \(.[1])"' \
    | LC_ALL=C sort
}
total_of() { awk '{s += $2} END {printf "%d", s}'; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 12000))
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# pid_on_port PORT: the pid listening on 127.0.0.1:PORT (needs ss, from iproute2), or nothing
pid_on_port() { ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1; }
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# cpu_of PID: the process's user + system CPU seconds so far (0 once it is gone)
cpu_of() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk -v hz="$CLK_TCK" '{printf "%.1f", ($12 + $13) / hz}' || echo 0; }

# The servers' CPU time is sampled around each run: rdr makes the broker do more (re-keying,
# partials, checkpoints, alerts) and InfluxDB stores more of its points.
KAFKA_PID=$(pid_on_port "${RDR_KAFKA_BROKERS##*:}")
INFLUX_HOSTPORT=${INFLUX#*://}; INFLUX_HOSTPORT=${INFLUX_HOSTPORT%%/*}
INFLUX_PID=$(pid_on_port "${INFLUX_HOSTPORT##*:}")
machine_cpu() { # the machine's busy CPU seconds so far (user, nice, system, irq, softirq, steal)
  awk -v hz="$CLK_TCK" '$1 == "cpu" {printf "%.1f", ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat
}
# sample PID: "P K I M", the CPU seconds so far of PID (0 if none or gone), the broker, InfluxDB
# (? when not found) and the whole machine
sample() {
  local p=0 k='?' i='?'
  if [ -n "$1" ]; then p=$(cpu_of "$1"); fi
  if [ -n "$KAFKA_PID" ]; then k=$(cpu_of "$KAFKA_PID"); fi
  if [ -n "$INFLUX_PID" ]; then i=$(cpu_of "$INFLUX_PID"); fi
  echo "$p $k $i $(machine_cpu)"
}
# cpu_report NAME "P0 K0 I0 M0" "P1 K1 I1 M1": sets CPU[NAME] (the process), SRV[NAME]
# ("broker / influxd") and OTHER[NAME] (the rest of the machine) over the interval
cpu_report() {
  local a b
  read -r -a a <<<"$2"; read -r -a b <<<"$3"
  CPU[$1]=$(awk -v x="${a[0]}" -v y="${b[0]}" 'BEGIN{printf "%.1f", y - x}')
  SRV[$1]=$(awk -v k0="${a[1]}" -v k1="${b[1]}" -v i0="${a[2]}" -v i1="${b[2]}" \
    'BEGIN{printf "%s / %s", (k0 == "?" || k1 == "?") ? "?" : sprintf("%.1f", k1 - k0), (i0 == "?" || i1 == "?") ? "?" : sprintf("%.1f", i1 - i0)}')
  OTHER[$1]=$(awk -v p0="${a[0]}" -v p1="${b[0]}" -v k0="${a[1]}" -v k1="${b[1]}" -v i0="${a[2]}" -v i1="${b[2]}" \
    -v m0="${a[3]}" -v m1="${b[3]}" 'BEGIN{o = (m1 - m0) - (p1 - p0); if (k0 != "?" && k1 != "?") o -= k1 - k0;
      if (i0 != "?" && i1 != "?") o -= i1 - i0; if (o < 0) o = 0; printf "%.1f", o}')
}

# ---------------------------------------------------------------- the topic

TOPIC=peers-$RUN_ID
DBP=peers_${RUN_ID//-/_}
# fill_topic: fills TOPIC with EVENTS events and writes what was sent to RUN_DIR/truth.*
fill_topic() {
  TOPICS+=("$TOPIC" "$TOPIC.partials" "$TOPIC.dlq" "$TOPIC.late" "$TOPIC.repartition" "$TOPIC.cp")
  log "filling $TOPIC ($PARTITIONS partitions) with $EVENTS events, one a record"
  "$FILL" -brokers "$RDR_KAFKA_BROKERS" -topic "$TOPIC" -partitions "$PARTITIONS" -events "$EVENTS" \
    -extra-topics "$TOPIC.partials,$TOPIC.dlq,$TOPIC.late" >"$RUN_DIR/truth.txt" 2>"$RUN_DIR/fill.log" \
    || { cat "$RUN_DIR/fill.log" >&2; die "fill failed"; }
  awk '$1 == "type" {print $2, $3}' "$RUN_DIR/truth.txt" | LC_ALL=C sort >"$RUN_DIR/truth.types"
  [ "$(awk '$1 == "total" {print $2}' "$RUN_DIR/truth.txt")" = "$EVENTS" ] || die "fill did not report $EVENTS events"
  log "filled in $(awk '$1 == "seconds" {print $2}' "$RUN_DIR/truth.txt") s: $(tr '\n' ' ' <"$RUN_DIR/truth.types")"
}

# check_counts NAME FILE: FILE's "TYPE COUNT" lines equal the truth; prints yes or no
check_counts() {
  if diff -u "$RUN_DIR/truth.types" "$2" >"$RUN_DIR/$1.diff"; then echo yes
  else log "$1: counts differ from the truth:"; cat "$RUN_DIR/$1.diff" >&2; echo no; fi
}

# start NAME CMD... : runs CMD in the background, output to RUN_DIR/NAME.log; sets PID
PID=
start() {
  local name=$1; shift
  "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
  PID=$!
  PIDS+=("$PID")
}
# stop_wait PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL; sets RC to the exit code
RC=
stop_wait() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "pid $pid ignored SIGTERM for $2 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  RC=0; wait "$pid" || RC=$?
}

declare -A SECS RATE EXACT NOTE VERSION LOAD CPU SRV OTHER
MACHINE="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"

# ---------------------------------------------------------------- rdr

run_rdr() {
  local db=${DBP}_rdr port t0 t1 deadline m ev=0 late=0 inv=0 alerts=0 n=0 total
  new_db "$db"
  port=$(free_port)
  LOAD[rdr]=$(loadavg)
  log "rdr: examples/dashboard on $TOPIC into $db (load $(loadavg))"
  local s0 s1
  s0=$(sample "")
  t0=$(now)
  start rdr "$RUN_DIR/bin/dashboard" -generate=false -kafka-brokers "$RDR_KAFKA_BROKERS" -topic "$TOPIC" \
    -kafka-group "$TOPIC-rdr" -instance peers-rdr -influx-url "$INFLUX" -influx-token "$TOKEN" \
    -influx-bucket "$db/autogen" -addr "127.0.0.1:$port" -partials-topic "$TOPIC.partials" \
    -checkpoint-topic "$TOPIC.cp"
  local pid=$PID
  deadline=$(( $(date +%s) + TIMEOUT ))
  while :; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$RUN_DIR/rdr.log" >&2; die "rdr exited before applying $EVENTS events"; }
    if m=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null); then
      read -r ev late inv alerts < <(awk '$1 == "rdr_events_in_total" {e = $2} $1 == "rdr_events_late_total" {l = $2}
        $1 == "rdr_events_invalid_total" {i = $2} $1 == "rdr_alerts_fired_total" {a = $2}
        END {printf "%d %d %d %d\n", e, l, i, a}' <<<"$m")
      n=$((ev + late + inv))
      if [ "$n" -ge "$EVENTS" ]; then s1=$(sample "$pid"); break; fi
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "rdr: $n of $EVENTS events applied after ${TIMEOUT}s"
    sleep 0.1
  done
  stop_wait "$pid" 60
  t1=$(now)
  cpu_report rdr "$s0" "$s1"
  [ "$RC" = 0 ] || { tail -n 30 "$RUN_DIR/rdr.log" >&2; die "rdr exited with $RC after SIGTERM"; }
  per_type_sum "$db" rdr_events count >"$RUN_DIR/rdr.types"
  total=$(total_of <"$RUN_DIR/rdr.types")
  local wtotal
  wtotal=$(influx_get "$db" 'SELECT sum("total") FROM "rdr_window"' | jq -r '.results[0].series[0].values[0][1] // 0')
  EXACT[rdr]=$(check_counts rdr "$RUN_DIR/rdr.types")
  if [ "$((total + late + inv))" != "$EVENTS" ] || [ "$wtotal" != "$total" ]; then EXACT[rdr]=no; fi
  SECS[rdr]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  NOTE[rdr]="stored $total (rdr_events; rdr_window total $wtotal), late $late, invalid $inv, alerts fired $alerts; start to exit after SIGTERM"
  local errs
  errs=$(grep -c 'level=ERROR' "$RUN_DIR/rdr.log" || true)
  if [ "$errs" -gt 0 ]; then
    NOTE[rdr]+="; $errs ERROR line(s) in rdr.log, the first: $(grep -m1 'level=ERROR' "$RUN_DIR/rdr.log" | sed 's/^.*level=ERROR //' | cut -c1-120 | tr '|' '/')"
  fi
  log "rdr: ${SECS[rdr]} s, ${NOTE[rdr]}, exact ${EXACT[rdr]}"
}

# ---------------------------------------------------------------- telegraf

run_telegraf() {
  local db=${DBP}_telegraf conf=$RUN_DIR/telegraf.conf t0 t1 deadline total=0 pid brokers
  brokers=\"${RDR_KAFKA_BROKERS//,/\", \"}\"
  new_db "$db"
  cat >"$conf" <<EOF
# generated by benchmarks/peers/run.sh
[agent]
  interval = "1s"
  round_interval = true
  ## One aggregate a period reaches the output: the batch and buffer only need to be large
  ## enough that nothing is dropped (the log is checked for "dropped").
  metric_batch_size = 5000
  metric_buffer_limit = 1000000
  collection_jitter = "0s"
  flush_interval = "200ms"
  flush_jitter = "0s"
  omit_hostname = true
  debug = false
  quiet = false

[[inputs.kafka_consumer]]
  brokers = [$brokers]
  topics = ["$TOPIC"]
  consumer_group = "$TOPIC-telegraf"
  offset = "oldest"
  kafka_version = "$TELEGRAF_KAFKA_VERSION"
  max_message_len = 1000000
  ## Messages read but not yet delivered (tracking metrics; valuecounter's drop_original delivers
  ## them at once). Default 1000.
  max_undelivered_messages = $TELEGRAF_UNDELIVERED
  data_format = "json_v2"
  [[inputs.kafka_consumer.json_v2]]
    measurement_name = "security_events"
    timestamp_path = "timestamp"
    timestamp_format = "2006-01-02T15:04:05.999999999Z07:00"
    [[inputs.kafka_consumer.json_v2.field]]
      path = "eventType"
      type = "string"

[[aggregators.valuecounter]]
  period = "1s"
  drop_original = true
  ## Metrics carry their event time, older than the period by a minute or more: without a grace
  ## the aggregator discards them as outside its window.
  grace = "24h"
  fields = ["eventType"]

[[outputs.influxdb]]
  urls = ["$INFLUX"]
  database = "$db"
  retention_policy = "autogen"
  skip_database_creation = true
  username = "$IUSER"
  password = "$IPASS"
  timeout = "10s"
EOF
  LOAD[telegraf]=$(loadavg)
  log "telegraf: on $TOPIC into $db (load $(loadavg))"
  local s0
  s0=$(sample "")
  t0=$(now)
  start telegraf "$TELEGRAF" --config "$conf"
  pid=$PID
  deadline=$(( $(date +%s) + TIMEOUT ))
  while :; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$RUN_DIR/telegraf.log" >&2; die "telegraf exited"; }
    total=$(telegraf_counts "$db" 2>/dev/null | total_of) || total=0
    if [ "$total" -ge "$EVENTS" ]; then t1=$(now); cpu_report telegraf "$s0" "$(sample "$pid")"; break; fi
    [ "$(date +%s)" -lt "$deadline" ] || die "telegraf: $total of $EVENTS events stored after ${TIMEOUT}s"
    sleep 0.25
  done
  stop_wait "$pid" 30
  [ "$RC" = 0 ] || log "telegraf exited with $RC after SIGTERM"
  telegraf_counts "$db" >"$RUN_DIR/telegraf.types"
  total=$(total_of <"$RUN_DIR/telegraf.types")
  EXACT[telegraf]=$(check_counts telegraf "$RUN_DIR/telegraf.types")
  SECS[telegraf]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  NOTE[telegraf]="stored $total (valuecounter sums, after its stop); start to the poll (every 0.25 s) that saw all $EVENTS in InfluxDB"
  if grep -qi 'dropped' "$RUN_DIR/telegraf.log"; then NOTE[telegraf]+="; 'dropped' in telegraf.log"; EXACT[telegraf]=no; fi
  if grep -q '^[^ ]* E! ' "$RUN_DIR/telegraf.log"; then NOTE[telegraf]+="; E! lines in telegraf.log"; fi
  log "telegraf: ${SECS[telegraf]} s, ${NOTE[telegraf]}, exact ${EXACT[telegraf]}"
}

# ---------------------------------------------------------------- flink

run_flink() {
  local db=${DBP}_flink t0 t1 deadline pid total late net wtotal
  new_db "$db"
  LOAD[flink]=$(loadavg)
  log "flink: local MiniCluster, parallelism 2, on $TOPIC into $db (load $(loadavg))"
  local s0 s1='' c
  s0=$(sample "")
  t0=$(now)
  mkdir -p "$RUN_DIR/flink-tmp" # the MiniCluster's temporary files (blobs, web uploads)
  # shellcheck disable=SC2086 # FLINK_JAVA_OPTS is a list of options
  start flink java $FLINK_JAVA_OPTS -Djava.io.tmpdir="$RUN_DIR/flink-tmp" -cp "$FLINK_CACHE/lib/*:$FLINK_CACHE/rdr-peers-flink-job.jar" "$FLINK_MAIN" \
    --brokers "$RDR_KAFKA_BROKERS" --topic "$TOPIC" --group "$TOPIC-flink" --influx-url "$INFLUX" \
    --db "$db" --rp autogen --user "$IUSER" --password "$IPASS" --parallelism 2 --batch 5000
  pid=$PID
  deadline=$(( $(date +%s) + TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || die "flink: not done after ${TIMEOUT}s"
    c=$(sample "$pid")
    if [ "${c%% *}" != 0 ]; then s1=$c; fi
    sleep 0.1
  done
  t1=$(now)
  cpu_report flink "$s0" "${s1:-$s0}"
  RC=0; wait "$pid" || RC=$?
  [ "$RC" = 0 ] || { tail -n 40 "$RUN_DIR/flink.log" >&2; die "flink exited with $RC"; }
  read -r net late < <(sed -n 's/^flink-result net_runtime_ms=\([0-9]*\) late=\([0-9]*\)$/\1 \2/p' "$RUN_DIR/flink.log") || true
  [ -n "${late:-}" ] || die "flink printed no result line (log: $RUN_DIR/flink.log)"
  per_type_sum "$db" flink_events count >"$RUN_DIR/flink.types"
  total=$(total_of <"$RUN_DIR/flink.types")
  wtotal=$(influx_get "$db" 'SELECT sum("total") FROM "flink_window"' | jq -r '.results[0].series[0].values[0][1] // 0')
  EXACT[flink]=$(check_counts flink "$RUN_DIR/flink.types")
  if [ "$((total + late))" != "$EVENTS" ] || [ "$wtotal" != "$total" ]; then EXACT[flink]=no; fi
  SECS[flink]=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  NOTE[flink]="stored $total (flink_events; flink_window total $wtotal), late $late; start to exit, JVM and MiniCluster start included (job net runtime $(awk -v m="$net" 'BEGIN{printf "%.2f", m/1000}') s)"
  log "flink: ${SECS[flink]} s, ${NOTE[flink]}, exact ${EXACT[flink]}"
}

VERSION[rdr]="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(cd "$ROOT" && git status --porcelain -- ':!benchmarks/peers' 2>/dev/null | grep -v '^??' || true)" ]; then
  VERSION[rdr]+=" + uncommitted changes"
fi
VERSION[telegraf]="${TELEGRAF_VERSION#v} (kafka_consumer, json_v2, valuecounter, influxdb)"
VERSION[flink]="$FLINK_VERSION, connector-kafka $FLINK_KAFKA_VERSION, $(java -version 2>&1 | head -n 1 | sed 's/^[^"]*"\([^"]*\)".*/Java \1/')"

# The warm-up: the reference app first runs, untimed, on a topic of its own of WARMUP events (its
# counts checked like the timed runs'); then the topic under test is filled. The first heavy run
# on a broker that has just started costs it far more CPU: rdr's 1,000,000 events cost fresh
# brokers 10.8-14.7 CPU s in 17 runs (one after a 200,000-event warm-up), against 2.9-4.2 s on
# warm ones and 4.3-5.1 s after a warm-up of 1,000,000 (2026-12-03). Whoever ran first paid for
# it: rdr, always. See benchmarks/peers/README.md.
if [ "$WARMUP" -gt 0 ]; then
  main=("$TOPIC" "$EVENTS" "$DBP")
  TOPIC=${main[0]}-warmup EVENTS=$WARMUP DBP=${main[2]}_warmup
  fill_topic
  run_rdr
  [ "${EXACT[rdr]}" = yes ] || die "warm-up: rdr's counts are not exact (see $RUN_DIR/rdr.diff)"
  for f in rdr.log rdr.types rdr.diff fill.log; do mv "$RUN_DIR/$f" "$RUN_DIR/warmup-$f" 2>/dev/null || true; done
  log "warm-up done (${SECS[rdr]} s); the runs below are timed"
  TOPIC=${main[0]} EVENTS=${main[1]} DBP=${main[2]}
  unset 'SECS[rdr]' 'EXACT[rdr]' 'NOTE[rdr]' 'CPU[rdr]' 'SRV[rdr]' 'OTHER[rdr]' 'LOAD[rdr]'
fi
fill_topic

for s in rdr telegraf flink; do
  wants "$s" || continue
  "run_$s"
  RATE[$s]=$(awk -v n="$EVENTS" -v t="${SECS[$s]}" 'BEGIN{printf "%.0f", n/t}')
done

# ---------------------------------------------------------------- the table

name_of() { case $1 in rdr) echo "rdr (examples/dashboard)" ;; telegraf) echo Telegraf ;; flink) echo "Flink job" ;; esac; }
ratio() { awk -v a="${RATE[$1]}" -v b="${RATE[$2]}" 'BEGIN{printf "%.2f", a/b}'; }
table() {
  echo "Peers on one topic: $EVENTS events, $PARTITIONS partitions, one event a record ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo "Machine: $MACHINE; Kafka $RDR_KAFKA_BROKERS, InfluxDB $INFLUX"
  echo
  echo "| system | version | events | seconds | events/s | exact counts | CPU s | broker / influxd CPU s | other CPU s | load before | what was timed, what was stored |"
  echo "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |"
  for s in rdr telegraf flink; do
    wants "$s" || continue
    printf '| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(name_of "$s")" "${VERSION[$s]}" "$EVENTS" "${SECS[$s]}" \
      "${RATE[$s]}" "${EXACT[$s]}" "${CPU[$s]:-?}" "${SRV[$s]:-?}" "${OTHER[$s]:-?}" "${LOAD[$s]}" "${NOTE[$s]}"
  done
  echo
  if wants rdr && wants telegraf; then echo "rdr/Telegraf: $(ratio rdr telegraf)"; fi
  if wants rdr && wants flink; then echo "rdr/Flink: $(ratio rdr flink)"; fi
  echo
  echo "CPU s: the process's user + system CPU time from its start to the last sample before its stop (rdr: when /metrics showed all events, before SIGTERM and its Close; Telegraf: when all events were seen in InfluxDB; Flink: the last 0.1 s sample before exit). Broker / influxd CPU s: the Kafka broker's and InfluxDB's over the same interval (whole servers: other clients included). Other CPU s: the rest of the machine's busy time over it (/proc/stat; the harness's polling and other people's work: 2 cores give 2 CPU s a second in all). Load before: /proc/loadavg as each started."
  echo "Builds: rdr ${RDR_BUILD:-}; Telegraf ${TELEGRAF_BUILD:-not run}; Flink job ${FLINK_BUILD:-not run}. Logs: $RUN_DIR"
}
table | tee "$RUN_DIR/result.md"
[ -z "$OUT" ] || cp "$RUN_DIR/result.md" "$OUT"
fail=
for s in rdr telegraf flink; do
  if wants "$s" && [ "${EXACT[$s]}" != yes ]; then fail=1; fi
done
[ -z "$fail" ] || die "counts not exact for at least one system (see above)"
