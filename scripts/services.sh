#!/usr/bin/env bash
# Real Kafka and InfluxDB servers for rdr's tests, CI and local runs, on 127.0.0.1 only.
#
#   scripts/services.sh deps   [apt|kafka|influxdb|influxdb2|all]  install what the tests need (idempotent)
#   scripts/services.sh start  [kafka|influxdb|influxdb2|all]...   start (no-op when running); waits until ready
#   scripts/services.sh stop   [kafka|influxdb|influxdb2|all]...   stop, wait for exit, drop the data
#   scripts/services.sh status [kafka|influxdb|influxdb2|all]...   pid, port, RSS; exit 3 if one is not running
#   scripts/services.sh crash-restart kafka              kill -9 the broker, start it again on the same
#                                                        ports and data (a crash); waits until ready
#   scripts/services.sh env                              export lines:  eval "$(scripts/services.sh env)"
#   scripts/services.sh topic NAME PARTITIONS [TopicCommand args...]   create a topic (if not exists)
#   scripts/services.sh logs   [kafka|influxdb|influxdb2] tail of the server log
#   scripts/services.sh smoke                            round trip: kcat produce/consume, curl write + InfluxQL
#
# Kafka: Apache Kafka 4.x (version in scripts/kafka/pom.xml) in KRaft mode, one node acting as
# broker and controller, jars from Maven Central run with the machine's Java. InfluxDB: OSS
# 1.8.10 built from its Go module, Flux disabled (rdr reads with InfluxQL), auth disabled (any
# "user:password" token works).
# InfluxDB 2.x: OSS v2.7.12 built by scripts/influxd2/build.sh (cached by version), set up with org
# "rdr", bucket "rdr" and a fixed operator token.
# Every start gets fresh ports and empty data dirs. Progress goes to stderr; stdout stays clean.
#
# Environment (all optional):
#   RDR_SERVICES_DIR      state dir (ports, pids, configs, data, logs)   [/tmp/rdr-services]
#   RDR_SERVICES_TIMEOUT  seconds to wait for readiness                  [120]
#   RDR_KAFKA_LIB_DIR     where the Kafka jars are copied     [~/.cache/rdr/kafka-VERSION/lib]
#   RDR_KAFKA_HEAP_OPTS   [-Xms256m -Xmx512m]      RDR_KAFKA_JVM_OPTS  [-XX:+UseSerialGC ...]
#   RDR_KAFKA_TOPICS      topics made on start     ["security-events:6 security-alerts:1
#                                                    security-events.dlq:1 security-events.late:1 rdr-partials:1
#                                                    security-events.repartition:6"]
#   RDR_INFLUXD           path of an influxd 1.8.10 binary   [$(go env GOPATH)/bin/influxd]
#   RDR_INFLUX_DB         database created on start          [rdr]
#   RDR_INFLUXD2          path of an influxd 2.x binary       [what scripts/influxd2/build.sh prints]
set -euo pipefail

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${RDR_SERVICES_DIR:-/tmp/rdr-services}
TIMEOUT=${RDR_SERVICES_TIMEOUT:-120}
STOP_TIMEOUT=${RDR_SERVICES_STOP_TIMEOUT:-30}

KAFKA_POM=$SCRIPTS_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIB=${RDR_KAFKA_LIB_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/rdr/kafka-$KAFKA_VERSION/lib}
KAFKA_HEAP_OPTS=${RDR_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
KAFKA_JVM_OPTS=${RDR_KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}
KAFKA_TOPICS=${RDR_KAFKA_TOPICS:-security-events:6 security-alerts:1 security-events.dlq:1 security-events.late:1 rdr-partials:1 security-events.repartition:6}
KAFKA_DIR=$STATE/kafka

INFLUX_VERSION=v1.8.10
INFLUX_MODULE=github.com/influxdata/influxdb
INFLUX_DB=${RDR_INFLUX_DB:-rdr}
INFLUX_DIR=$STATE/influxdb

INFLUX2_DIR=$STATE/influxdb2
INFLUX2_ORG=rdr
INFLUX2_BUCKET=rdr
INFLUX2_TOKEN=rdr-test-operator-token

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# ---------------------------------------------------------------- helpers

APT_UPDATED=
apt_install() { # apt_install PKG... : installs the packages, running apt-get update once
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
}

need_cmd() { # need_cmd CMD DEBIAN_PACKAGE : installs the package when CMD is missing
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

# free_ports N: N distinct TCP ports free on 127.0.0.1 right now.
free_ports() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'pass' 2>/dev/null; then
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  else
    local out=() p
    while [ "${#out[@]}" -lt "$1" ]; do
      p=$((20000 + RANDOM % 12000))
      [[ " ${out[*]} " == *" $p "* ]] && continue
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue # something listens there
      out+=("$p")
    done
    echo "${out[*]}"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN
# (guards against a reused pid after a reboot or a crash).
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

rss_mb() { awk '/^VmRSS/{printf "%d MB", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

# spawn PIDFILE LOGFILE CMD...: runs CMD in its own session, detached, output to LOGFILE.
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  # 9>&- : the server must not inherit the start/stop lock (with_lock), or it would hold it forever.
  # shellcheck disable=SC2016 # $$ and $@ expand in the child bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$logfile" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  die "could not start $1"
}

# kill_wait PIDFILE NAME: SIGTERM, wait STOP_TIMEOUT s, then SIGKILL; waits for the exit.
kill_wait() {
  local pid i
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 $((STOP_TIMEOUT * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$2 (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$1"
}

fail_start() { # fail_start NAME PIDFILE LOG... : show the logs, kill what was started, exit 1
  local name=$1 pidfile=$2 f; shift 2
  for f in "$@"; do
    [ -s "$f" ] || continue
    log "---- tail of $f"
    tail -n 40 "$f" >&2
  done
  [ -s "$pidfile" ] && kill_wait "$pidfile" "$name"
  die "$name did not become ready"
}

with_lock() { # serialises start/stop/deps across concurrent callers (e.g. parallel test jobs)
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  "$@"
}

# ---------------------------------------------------------------- kafka

kafka_deps() {
  need_cmd java openjdk-17-jre-headless
  local stamp=$KAFKA_LIB/.complete sum
  sum=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
  need_cmd mvn maven
  log "copying Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB"
  mkdir -p "$KAFKA_LIB"
  local mlog=$KAFKA_LIB/../mvn.log
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" -Dkafka.lib.dir="$KAFKA_LIB" \
    dependency:copy-dependencies >"$mlog" 2>&1; then
    tail -n 40 "$mlog" >&2
    die "mvn dependency:copy-dependencies failed (log: $mlog)"
  fi
  [ -f "$KAFKA_LIB/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing in $KAFKA_LIB"
  echo "$sum" >"$stamp"
}

kafka_java() { # kafka_java CLASS ARGS... : a Kafka command-line tool, quiet logging
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2-tools.properties" -cp "$KAFKA_LIB/*" "$@"
}

kafka_running() { alive "$KAFKA_DIR/kafka.pid" "kafka.Kafka"; }

kafka_topic() { # kafka_topic NAME PARTITIONS [extra TopicCommand args]
  local name=$1 parts=$2; shift 2
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$(cat "$KAFKA_DIR/port")" \
    --create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 "$@"
}

kafka_start() {
  if kafka_running && [ -s "$KAFKA_DIR/ready" ]; then
    log "kafka already running (pid $(cat "$KAFKA_DIR/kafka.pid"), 127.0.0.1:$(cat "$KAFKA_DIR/port"))"
    return 0
  fi
  kafka_running && kill_wait "$KAFKA_DIR/kafka.pid" kafka # half-started: begin again
  kafka_deps
  local t0 port cport ports cluster_id
  t0=$(now)
  rm -rf "$KAFKA_DIR"
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  ports=$(free_ports 2); port=${ports% *}; cport=${ports#* }
  cat >"$KAFKA_DIR/server.properties" <<EOF
# generated by scripts/services.sh: single-node KRaft (broker + controller), 127.0.0.1 only
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
EOF
  cat >"$KAFKA_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KAFKA_DIR/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$KAFKA_DIR/log4j2-tools.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
  # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding (22 chars). It
  # starts with '-' one time in 64: pass it as --cluster-id=ID so it is not read as an option.
  cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  kafka_java kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/logs/format.log" 2>&1 || fail_start kafka /dev/null "$KAFKA_DIR/logs/format.log"
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$port (controller :$cport)"
  echo "$port" >"$KAFKA_DIR/port"
  echo "$cport" >"$KAFKA_DIR/controller_port"
  kafka_run "$port" start
  # Ready means the metadata path answers: create the default topics (in parallel: one JVM each).
  local spec pids=() failed=0 i=0
  for spec in $KAFKA_TOPICS; do
    kafka_topic "${spec%%:*}" "${spec##*:}" >"$KAFKA_DIR/logs/topic-$i.log" 2>&1 &
    pids+=($!); i=$((i + 1))
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed=1; done
  if [ "$failed" = 1 ]; then
    log "kafka: topic creation failed"
    fail_start kafka "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR"/logs/topic-*.log "$KAFKA_DIR/logs/server.log"
  fi
  echo "127.0.0.1:$port" >"$KAFKA_DIR/ready"
  log "kafka ready on 127.0.0.1:$port in $(since "$t0")s (pid $(cat "$KAFKA_DIR/kafka.pid"), topics: $KAFKA_TOPICS)"
}

# kafka_run PORT WHAT: runs the broker on $KAFKA_DIR's config and waits until it serves on PORT
# (WHAT, start or restart, names the step in errors).
kafka_run() {
  local port=$1 what=$2
  # shellcheck disable=SC2086
  spawn "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/logs/stdout.log" \
    java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until grep -q 'Kafka Server started' "$KAFKA_DIR/logs/server.log" 2>/dev/null && port_open "$port"; do
    kafka_running || { log "kafka exited during $what"; fail_start kafka "$KAFKA_DIR/kafka.pid" \
      "$KAFKA_DIR/logs/server.log" "$KAFKA_DIR/logs/stdout.log"; }
    [ "$(date +%s)" -lt "$deadline" ] || { log "kafka: $what timeout after ${TIMEOUT}s"; fail_start kafka \
      "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/logs/server.log" "$KAFKA_DIR/logs/stdout.log"; }
    sleep 0.2
  done
}

# kafka_restart: a broker crash and restart: SIGKILL, then the same command on the same
# config, ports and data, waiting until it serves again.
kafka_restart() {
  kafka_running && [ -s "$KAFKA_DIR/ready" ] || die "kafka is not running (services.sh start kafka)"
  local pid port t0
  t0=$(now)
  pid=$(cat "$KAFKA_DIR/kafka.pid"); port=$(cat "$KAFKA_DIR/port")
  log "kafka: SIGKILL (pid $pid)"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  mv "$KAFKA_DIR/logs/server.log" "$KAFKA_DIR/logs/server.log.$(date +%s%N)" 2>/dev/null || true
  kafka_run "$port" restart
  log "kafka restarted on 127.0.0.1:$port in $(since "$t0")s (pid $(cat "$KAFKA_DIR/kafka.pid"))"
}

kafka_stop() {
  if kafka_running; then
    log "stopping kafka (pid $(cat "$KAFKA_DIR/kafka.pid"))"
    kill_wait "$KAFKA_DIR/kafka.pid" kafka
  fi
  rm -rf "$KAFKA_DIR/data" "$KAFKA_DIR/ready" "$KAFKA_DIR/kafka.pid"
}

# ---------------------------------------------------------------- influxdb

influxd_ok() { # influxd_ok PATH: an influxd built from influxdb v1.8.10 that says so
  [ -x "$1" ] || return 1
  # The version is what /ping's X-Influxdb-Version header says; rdr binds query parameters on a
  # server that reports 1.x or 2.x (a plain go install would report "unknown").
  "$1" version 2>/dev/null | grep -qF "InfluxDB $INFLUX_VERSION " || return 1
  command -v go >/dev/null 2>&1 || return 0 # cannot check the build info without go
  go version -m "$1" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+${INFLUX_MODULE}[[:space:]]+${INFLUX_VERSION}"
}

INFLUXD=
influx_deps() {
  local gobin c
  if [ -n "${RDR_INFLUXD:-}" ]; then
    influxd_ok "$RDR_INFLUXD" || die "RDR_INFLUXD=$RDR_INFLUXD is not an influxd $INFLUX_VERSION"
    INFLUXD=$RDR_INFLUXD; return 0
  fi
  command -v go >/dev/null 2>&1 || die "go is needed to build influxd $INFLUX_VERSION"
  gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
  for c in "$gobin/influxd" "$(command -v influxd || true)"; do
    if [ -n "$c" ] && influxd_ok "$c"; then INFLUXD=$c; return 0; fi
  done
  log "building influxd $INFLUX_VERSION with go install into $gobin (a few minutes on 2 cores)"
  (cd / && env -u GOFLAGS GOBIN="$gobin" GO111MODULE=on \
    go install -ldflags "-X main.version=${INFLUX_VERSION#v} -X main.branch=${INFLUX_VERSION} -X main.commit=module" \
      "$INFLUX_MODULE/cmd/influxd@$INFLUX_VERSION") >&2 || die "go install influxd failed"
  influxd_ok "$gobin/influxd" || die "$gobin/influxd is not $INFLUX_VERSION after go install"
  INFLUXD=$gobin/influxd
}

influx_running() { alive "$INFLUX_DIR/influxd.pid" "$INFLUX_DIR/influxdb.conf"; }

influx_query() { # influx_query PORT 'InfluxQL' : POST /query, prints the JSON answer
  curl -fsS -XPOST "http://127.0.0.1:$1/query" --data-urlencode "q=$2"
}

influx_start() {
  if influx_running && [ -s "$INFLUX_DIR/ready" ]; then
    log "influxdb already running (pid $(cat "$INFLUX_DIR/influxd.pid"), http://127.0.0.1:$(cat "$INFLUX_DIR/port"))"
    return 0
  fi
  influx_running && kill_wait "$INFLUX_DIR/influxd.pid" influxdb
  need_cmd curl curl
  influx_deps
  local t0 port rport ports
  t0=$(now)
  rm -rf "$INFLUX_DIR"
  mkdir -p "$INFLUX_DIR/logs"
  ports=$(free_ports 2); port=${ports% *}; rport=${ports#* }
  # Only what differs from the defaults; `influxd config` merges it into the full config file.
  cat >"$INFLUX_DIR/overrides.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rport"
[meta]
  dir = "$INFLUX_DIR/meta"
[data]
  dir = "$INFLUX_DIR/data"
  wal-dir = "$INFLUX_DIR/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
  flux-enabled = false
  pprof-enabled = false
[continuous_queries]
  log-enabled = false
EOF
  "$INFLUXD" config -config "$INFLUX_DIR/overrides.conf" >"$INFLUX_DIR/influxdb.conf" 2>"$INFLUX_DIR/logs/config.log" \
    || fail_start influxdb /dev/null "$INFLUX_DIR/logs/config.log"
  log "starting influxd $INFLUX_VERSION on 127.0.0.1:$port (rpc :$rport)"
  spawn "$INFLUX_DIR/influxd.pid" "$INFLUX_DIR/logs/influxd.log" \
    "$INFLUXD" run -config "$INFLUX_DIR/influxdb.conf"
  echo "$port" >"$INFLUX_DIR/port"
  echo "$rport" >"$INFLUX_DIR/rpc_port"
  local deadline=$(( $(date +%s) + TIMEOUT )) ok=
  while :; do
    influx_running || { log "influxd exited during start"; fail_start influxdb "$INFLUX_DIR/influxd.pid" \
      "$INFLUX_DIR/logs/influxd.log"; }
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping" || true)" = 204 ] \
      && influx_query "$port" "CREATE DATABASE \"$INFLUX_DB\"" >/dev/null 2>&1 \
      && influx_query "$port" "SHOW DATABASES" 2>/dev/null | grep -q "\"$INFLUX_DB\""; then
      ok=1; break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 0.2
  done
  [ -n "$ok" ] || { log "influxdb: not ready after ${TIMEOUT}s"; fail_start influxdb \
    "$INFLUX_DIR/influxd.pid" "$INFLUX_DIR/logs/influxd.log"; }
  echo "http://127.0.0.1:$port" >"$INFLUX_DIR/ready"
  log "influxdb ready on http://127.0.0.1:$port in $(since "$t0")s (pid $(cat "$INFLUX_DIR/influxd.pid"), database $INFLUX_DB; Flux off: rdr reads with InfluxQL)"
}

influx_stop() {
  if influx_running; then
    log "stopping influxdb (pid $(cat "$INFLUX_DIR/influxd.pid"))"
    kill_wait "$INFLUX_DIR/influxd.pid" influxdb
  fi
  rm -rf "$INFLUX_DIR/meta" "$INFLUX_DIR/data" "$INFLUX_DIR/wal" "$INFLUX_DIR/ready" "$INFLUX_DIR/influxd.pid"
}

# ---------------------------------------------------------------- influxdb2

INFLUXD2=
influx2_deps() {
  if [ -n "${RDR_INFLUXD2:-}" ]; then
    [ -x "$RDR_INFLUXD2" ] || die "RDR_INFLUXD2=$RDR_INFLUXD2 is not executable"
    INFLUXD2=$RDR_INFLUXD2; return 0
  fi
  INFLUXD2=$("$SCRIPTS_DIR/influxd2/build.sh" | tail -n 1) || die "scripts/influxd2/build.sh failed"
  [ -x "$INFLUXD2" ] || die "scripts/influxd2/build.sh printed '$INFLUXD2', not an executable"
}

influx2_running() { alive "$INFLUX2_DIR/influxd.pid" "$INFLUX2_DIR/engine"; }

influx2_start() {
  if influx2_running && [ -s "$INFLUX2_DIR/ready" ]; then
    log "influxdb2 already running (pid $(cat "$INFLUX2_DIR/influxd.pid"), $(cat "$INFLUX2_DIR/ready"))"
    return 0
  fi
  influx2_running && kill_wait "$INFLUX2_DIR/influxd.pid" influxdb2
  need_cmd curl curl
  influx2_deps
  local t0 port
  t0=$(now)
  rm -rf "$INFLUX2_DIR"
  mkdir -p "$INFLUX2_DIR/logs"
  port=$(free_ports 1)
  log "starting influxd ($("$INFLUXD2" version 2>/dev/null | head -n 1)) on 127.0.0.1:$port"
  spawn "$INFLUX2_DIR/influxd.pid" "$INFLUX2_DIR/logs/influxd.log" \
    "$INFLUXD2" --bolt-path "$INFLUX2_DIR/influxd.bolt" --engine-path "$INFLUX2_DIR/engine" \
    --sqlite-path "$INFLUX2_DIR/influxd.sqlite" --http-bind-address "127.0.0.1:$port" \
    --reporting-disabled --log-level warn
  echo "$port" >"$INFLUX2_DIR/port"
  local u="http://127.0.0.1:$port" deadline=$(( $(date +%s) + TIMEOUT )) ok=
  while :; do
    influx2_running || { log "influxd 2.x exited during start"; fail_start influxdb2 "$INFLUX2_DIR/influxd.pid" \
      "$INFLUX2_DIR/logs/influxd.log"; }
    if curl -fsS "$u/health" 2>/dev/null | grep -q '"status": *"pass"'; then ok=1; break; fi
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 0.2
  done
  [ -n "$ok" ] || { log "influxdb2: not healthy after ${TIMEOUT}s"; fail_start influxdb2 \
    "$INFLUX2_DIR/influxd.pid" "$INFLUX2_DIR/logs/influxd.log"; }
  curl -fsS -XPOST "$u/api/v2/setup" -H 'Content-Type: application/json' \
    -d "{\"username\":\"rdr\",\"password\":\"rdr-test-password\",\"org\":\"$INFLUX2_ORG\",\"bucket\":\"$INFLUX2_BUCKET\",\"token\":\"$INFLUX2_TOKEN\"}" \
    >"$INFLUX2_DIR/logs/setup.json" 2>&1 || fail_start influxdb2 "$INFLUX2_DIR/influxd.pid" "$INFLUX2_DIR/logs/setup.json"
  # InfluxQL through the bucket's virtual DBRP mapping (rdr/autogen), as the sink reads.
  curl -fsS -XPOST "$u/api/v2/write?org=$INFLUX2_ORG&bucket=$INFLUX2_BUCKET&precision=ns" \
    -H "Authorization: Token $INFLUX2_TOKEN" --data-binary "rdr_start,src=services.sh value=1i $(date +%s%N)" \
    || fail_start influxdb2 "$INFLUX2_DIR/influxd.pid" "$INFLUX2_DIR/logs/influxd.log"
  curl -fsS -G "$u/query" -H "Authorization: Token $INFLUX2_TOKEN" --data-urlencode "db=$INFLUX2_BUCKET" \
    --data-urlencode 'q=SELECT count(value) FROM rdr_start' | grep -q '"count"' \
    || { log "influxdb2: InfluxQL /query on db=$INFLUX2_BUCKET failed"; fail_start influxdb2 \
      "$INFLUX2_DIR/influxd.pid" "$INFLUX2_DIR/logs/influxd.log"; }
  echo "$u" >"$INFLUX2_DIR/ready"
  log "influxdb2 ready on $u in $(since "$t0")s (pid $(cat "$INFLUX2_DIR/influxd.pid"), org $INFLUX2_ORG, bucket $INFLUX2_BUCKET)"
}

influx2_stop() {
  if influx2_running; then
    log "stopping influxdb2 (pid $(cat "$INFLUX2_DIR/influxd.pid"))"
    kill_wait "$INFLUX2_DIR/influxd.pid" influxdb2
  fi
  rm -rf "$INFLUX2_DIR/engine" "$INFLUX2_DIR/influxd.bolt" "$INFLUX2_DIR/influxd.sqlite" "$INFLUX2_DIR/ready" "$INFLUX2_DIR/influxd.pid"
}

# ---------------------------------------------------------------- commands

which_services() { # which_services [ARG...] -> the services they name, each once, in order (none: all)
  local a out=''
  [ $# -gt 0 ] || set -- all
  for a; do
    case "$a" in
      all) out+=" kafka influxdb influxdb2" ;;
      kafka) out+=" kafka" ;;
      influxdb|influx) out+=" influxdb" ;;
      influxdb2|influx2) out+=" influxdb2" ;;
      *) die "unknown service '$a' (kafka, influxdb, influxdb2 or all)" ;;
    esac
  done
  local s seen=' '
  for s in $out; do [[ $seen == *" $s "* ]] || seen+="$s "; done
  echo $seen
}

cmd_deps() {
  local what=${1:-all}
  if [ "$what" = all ] || [ "$what" = apt ]; then
    local pkgs=() c
    for c in kcat:kcat chromium:chromium curl:curl java:openjdk-17-jre-headless mvn:maven; do
      command -v "${c%%:*}" >/dev/null 2>&1 || pkgs+=("${c##*:}")
    done
    if [ "${#pkgs[@]}" -gt 0 ]; then apt_install "${pkgs[@]}"; else log "apt packages present"; fi
  fi
  if [ "$what" = all ] || [ "$what" = kafka ]; then kafka_deps; log "kafka $KAFKA_VERSION jars in $KAFKA_LIB"; fi
  if [ "$what" = all ] || [ "$what" = influxdb ]; then influx_deps; log "influxd: $INFLUXD"; fi
  if [ "$what" = all ] || [ "$what" = influxdb2 ]; then influx2_deps; log "influxd 2.x: $INFLUXD2"; fi
  case "$what" in all|apt|kafka|influxdb|influxdb2) ;; *) die "deps: unknown '$what' (apt, kafka, influxdb, influxdb2 or all)" ;; esac
}

cmd_start() {
  local s list
  list=$(which_services "$@") || exit 2
  for s in $list; do
    case $s in kafka) kafka_start ;; influxdb) influx_start ;; influxdb2) influx2_start ;; esac
  done
}

cmd_stop() {
  local s list
  list=$(which_services "$@") || exit 2
  for s in $list; do
    case $s in kafka) kafka_stop ;; influxdb) influx_stop ;; influxdb2) influx2_stop ;; esac
  done
}

cmd_status() {
  local s rc=0 pid list
  list=$(which_services "$@") || exit 2
  for s in $list; do
    case $s in
      kafka)
        if kafka_running && [ -s "$KAFKA_DIR/ready" ]; then
          pid=$(cat "$KAFKA_DIR/kafka.pid")
          echo "kafka: running pid $pid 127.0.0.1:$(cat "$KAFKA_DIR/port") rss $(rss_mb "$pid") (Kafka $KAFKA_VERSION, log $KAFKA_DIR/logs/server.log)"
        else echo "kafka: stopped"; rc=3; fi ;;
      influxdb)
        if influx_running && [ -s "$INFLUX_DIR/ready" ]; then
          pid=$(cat "$INFLUX_DIR/influxd.pid")
          echo "influxdb: running pid $pid http://127.0.0.1:$(cat "$INFLUX_DIR/port") rss $(rss_mb "$pid") (InfluxDB $INFLUX_VERSION, log $INFLUX_DIR/logs/influxd.log)"
        else echo "influxdb: stopped"; rc=3; fi ;;
      influxdb2)
        if influx2_running && [ -s "$INFLUX2_DIR/ready" ]; then
          pid=$(cat "$INFLUX2_DIR/influxd.pid")
          echo "influxdb2: running pid $pid $(cat "$INFLUX2_DIR/ready") rss $(rss_mb "$pid") (log $INFLUX2_DIR/logs/influxd.log)"
        else echo "influxdb2: stopped"; rc=3; fi ;;
    esac
  done
  return $rc
}

cmd_env() {
  # env prints every running service; it once took names and ignored them, so that
  # "env kafka influxdb" looked like a request it did not make.
  [ $# -eq 0 ] || die "env takes no service names: it prints the exports of every running service"
  if kafka_running && [ -s "$KAFKA_DIR/ready" ]; then
    echo "export RDR_KAFKA_BROKERS=$(cat "$KAFKA_DIR/ready") RDR_KAFKA_PID=$(cat "$KAFKA_DIR/kafka.pid")"
  else log "kafka is not running: no RDR_KAFKA_BROKERS"; fi
  if influx_running && [ -s "$INFLUX_DIR/ready" ]; then
    echo "export RDR_INFLUX_URL=$(cat "$INFLUX_DIR/ready") RDR_INFLUX_TOKEN=rdr:rdr RDR_INFLUX_ORG=rdr RDR_INFLUX_BUCKET=$INFLUX_DB/autogen RDR_INFLUX_PID=$(cat "$INFLUX_DIR/influxd.pid")"
  else log "influxdb is not running: no RDR_INFLUX_*"; fi
  if influx2_running && [ -s "$INFLUX2_DIR/ready" ]; then
    echo "export RDR_INFLUX2_URL=$(cat "$INFLUX2_DIR/ready") RDR_INFLUX2_TOKEN=$INFLUX2_TOKEN RDR_INFLUX2_ORG=$INFLUX2_ORG RDR_INFLUX2_BUCKET=$INFLUX2_BUCKET RDR_INFLUX2_PID=$(cat "$INFLUX2_DIR/influxd.pid")"
  else log "influxdb2 is not running: no RDR_INFLUX2_*"; fi
}

cmd_topic() {
  [ $# -ge 2 ] || die "usage: services.sh topic NAME PARTITIONS [TopicCommand args...]"
  if ! kafka_running || [ ! -s "$KAFKA_DIR/ready" ]; then die "kafka is not running (services.sh start kafka)"; fi
  kafka_topic "$@"
}

cmd_logs() {
  case "${1:-kafka}" in
    kafka) tail -n "${2:-50}" "$KAFKA_DIR/logs/server.log" ;;
    influxdb|influx) tail -n "${2:-50}" "$INFLUX_DIR/logs/influxd.log" ;;
    influxdb2|influx2) tail -n "${2:-50}" "$INFLUX2_DIR/logs/influxd.log" ;;
    *) die "logs: kafka, influxdb or influxdb2" ;;
  esac
}

# smoke: a round trip through each running service with standard non-Go clients.
cmd_smoke() {
  local rc=0 b u n topic ts
  if kafka_running && [ -s "$KAFKA_DIR/ready" ]; then
    need_cmd kcat kcat
    b=$(cat "$KAFKA_DIR/ready"); topic=security-events
    ts=$(date +%s%3N)
    # key = userId. murmur2 is the Java client's hash, not the FNV-1a that rdr's producers use
    # (pipeline.PartitionOf): fine for a round trip, not for feeding a processor per-user data
    printf 'u-%s|{"timestamp":%s,"eventType":"smoke","userId":"u-%s","ipAddress":"127.0.0.1","severity":"low"}\n' \
      1 "$ts" 1 2 "$ts" 2 3 "$ts" 3 | kcat -b "$b" -P -t "$topic" -K'|' -X partitioner=murmur2_random
    n=$(kcat -q -b "$b" -C -t "$topic" -o beginning -e -f '%s\n' | grep -c "\"timestamp\":$ts,\"eventType\":\"smoke\"" || true)
    if [ "$n" = 3 ]; then echo "kafka: produced and consumed 3 records on $topic via kcat: ok"
    else echo "kafka: expected 3 smoke records back, got $n: FAIL"; rc=1; fi
  fi
  if influx_running && [ -s "$INFLUX_DIR/ready" ]; then
    u=$(cat "$INFLUX_DIR/ready"); ts=$(date +%s%N)
    curl -fsS -XPOST "$u/api/v2/write?bucket=$INFLUX_DB/autogen&precision=ns" -H 'Authorization: Token rdr:rdr' \
      --data-binary "rdr_smoke,src=services.sh value=1i $ts" || rc=1
    if influx_query "${u##*:}" "SELECT count(value) FROM $INFLUX_DB.autogen.rdr_smoke" | grep -q '"count"'; then
      echo "influxdb: v2 write + InfluxQL query: ok"
    else echo "influxdb: smoke query FAIL"; rc=1; fi
  fi
  return $rc
}

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [ $# -gt 0 ] && shift
case "$cmd" in
  deps)   with_lock cmd_deps "$@" ;;
  start)  with_lock cmd_start "$@" ;;
  stop)   with_lock cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  crash-restart)
    [ "${1:-}" = kafka ] || die "crash-restart: only kafka"
    with_lock kafka_restart ;;
  env)    cmd_env "$@" ;;
  topic)  cmd_topic "$@" ;;
  logs)   cmd_logs "$@" ;;
  smoke)  cmd_smoke ;;
  *) usage ;;
esac
