#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft: broker and controller in one JVM, no ZooKeeper,
# no Docker) for development and tests. Jars come from Maven Central via scripts/kafka/pom.xml;
# everything the broker writes lives in .kafka/ at the repo root (git-ignored).
#
#   bash scripts/kafka.sh start|stop|status|reset|fetch   (fetch: only the jars, e.g. for npm run chaos)
#
# KAFKA_BROKERS        where clients connect (default 127.0.0.1:9092; only the first entry counts).
#                      A non-local address is only checked, never started.
# KAFKA_CONTROLLER_PORT  KRaft controller port of the local broker (default 9093).
# KAFKA_START_TIMEOUT  seconds to wait for the broker to serve requests (default 60).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/scripts/kafka/pom.xml"
LOG4J="$ROOT/scripts/kafka/log4j.properties"
HOME_DIR="$ROOT/.kafka"
LIB="$HOME_DIR/lib"
DATA="$HOME_DIR/data"
LOGS="$HOME_DIR/logs"
CONFIG="$HOME_DIR/server.properties"
PID_FILE="$HOME_DIR/kafka.pid"
CLUSTER_ID_FILE="$HOME_DIR/cluster-id"

KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
FIRST_BROKER="${KAFKA_BROKERS%%,*}"
HOST="${FIRST_BROKER%:*}"
PORT="${FIRST_BROKER##*:}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"

die() { echo "kafka: $*" >&2; exit 1; }

is_local() { [[ $HOST == 127.0.0.1 || $HOST == localhost ]]; }

# Sends an ApiVersions v0 request (api key 18, correlation id 7, client id "kafka.sh") and checks
# that the reply echoes correlation id 7 with error code 0. Unlike a bare TCP connect this proves
# a Kafka broker is serving requests: the listener port is bound well before the broker is ready.
kafka_answers() { # host port
  local reply
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1"
    printf "\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x00\x07\x00\x08kafka.sh" >&3
    head -c 10 <&3 | od -An -tx1' "$1" "$2" 2>/dev/null | tr -d ' \n')" || return 1
  [[ ${reply:8} == 000000070000 ]]
}

port_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# Prints the pid from the pid file if that process is still our broker (guards against pid reuse).
running_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid="$(<"$PID_FILE")"
  [[ $(ps -p "$pid" -o args= 2>/dev/null) == *kafka.Kafka* ]] || return 1
  echo "$pid"
}

# Fetches the jars into a temporary folder and moves it in place only when Maven succeeded, so an
# interrupted download never leaves a half-filled lib/ that looks complete.
ensure_jars() {
  [[ -f $LIB/kafka_2.13-$KAFKA_VERSION.jar ]] && return 0
  command -v mvn >/dev/null || die "mvn not found on PATH (needed once to fetch the Kafka jars)"
  echo "kafka: fetching Apache Kafka $KAFKA_VERSION from Maven Central (first run only)"
  rm -rf "$LIB.tmp"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIB.tmp" >"$LOGS/maven.log" 2>&1 \
    || die "Maven could not fetch the Kafka jars; see .kafka/logs/maven.log"
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
}

write_config() {
  cat >"$CONFIG" <<EOF
# Written by scripts/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

# One node: every internal topic has a single replica. Few partitions keep the first
# consumer-group join and the first transactional producer fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
default.replication.factor=1
min.insync.replicas=1
# The default 3 s delay is paid on every group's first join.
group.initial.rebalance.delay.ms=0
# Topics are created explicitly (kafkajs auto-creation misbehaves on KRaft).
auto.create.topics.enable=false
num.partitions=1

log.retention.hours=24
log.segment.bytes=67108864
# The log cleaner (needed for the compacted __consumer_offsets) allocates this buffer on the heap
# up front; its 128 MB default would take half of the 256 MB heap.
log.cleaner.dedupe.buffer.size=8388608
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

# Formats the data dir once; the cluster id is kept in a file so the id stays the same across
# resets (--ignore-formatted makes the call harmless on an already formatted dir).
format_storage() {
  local tool=("$JAVA" -cp "$LIB/*" -Dlog4j.configuration="file:$LOG4J" -Dkafka.logs.dir="$LOGS"
              kafka.tools.StorageTool)
  if [[ ! -s $CLUSTER_ID_FILE ]]; then
    "${tool[@]}" random-uuid >"$CLUSTER_ID_FILE.tmp" 2>>"$LOGS/stdout.log" \
      || die "could not generate a cluster id; see .kafka/logs/stdout.log"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  "${tool[@]}" format -t "$(<"$CLUSTER_ID_FILE")" -c "$CONFIG" --ignore-formatted \
    >>"$LOGS/stdout.log" 2>&1 \
    || die "formatting $DATA failed; see .kafka/logs/stdout.log"
}

launch() {
  # setsid: own session, so a Ctrl-C or process-group kill aimed at the caller (a test runner,
  # a terminal) does not take the broker down. 9>&- keeps the start lock out of the broker.
  # The heap starts at 32 MB and grows to 256 MB only as needed: measured on this broker, 160 MiB
  # resident idle and 227 MiB at the peak of 40,000 produce requests, against 202 and 271 with
  # the whole 256 MB committed from the start (-Xms256m).
  nohup setsid "$JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$LOG4J" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIB/*" kafka.Kafka "$CONFIG" \
    </dev/null >>"$LOGS/stdout.log" 2>&1 9>&- &
  echo $! >"$PID_FILE"
}

wait_until_up() { # pid
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    kafka_answers 127.0.0.1 "$PORT" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      die "broker exited during startup; see .kafka/logs/server.log and stdout.log"
    fi
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  die "broker did not come up within ${KAFKA_START_TIMEOUT}s; see .kafka/logs/server.log"
}

stop_broker() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    echo "kafka: not running"
    return 0
  fi
  # SIGTERM runs the broker's controlled shutdown (flushes logs, closes the metadata log).
  kill -TERM "$pid"
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    echo "kafka: broker (pid $pid) ignored SIGTERM for 30s; killed"
  else
    echo "kafka: stopped (pid $pid)"
  fi
  rm -f "$PID_FILE"
}

cmd_start() {
  if kafka_answers "$HOST" "$PORT"; then
    echo "kafka: already running at $FIRST_BROKER"
    return 0
  fi
  is_local || die "no broker answers at $FIRST_BROKER (not a local address, so not starting one)"

  local pid started=$SECONDS
  if pid="$(running_pid)"; then
    # Ours, still starting (e.g. a parallel `start` launched it): wait for it instead.
    wait_until_up "$pid"
  else
    port_open 127.0.0.1 "$PORT" && die "127.0.0.1:$PORT is taken by something that is not a Kafka broker"
    command -v "$JAVA" >/dev/null || die "java not found (Java 17+ is needed to run the broker)"
    mkdir -p "$LOGS"
    : >"$LOGS/stdout.log"
    ensure_jars
    write_config
    format_storage
    launch
    wait_until_up "$(<"$PID_FILE")"
  fi
  echo "kafka: started at 127.0.0.1:$PORT in $((SECONDS - started))s (pid $(<"$PID_FILE"), logs in .kafka/logs)"
}

cmd_status() {
  local pid
  if kafka_answers "$HOST" "$PORT"; then
    if pid="$(running_pid)"; then
      echo "kafka: running at $FIRST_BROKER (pid $pid)"
    else
      echo "kafka: running at $FIRST_BROKER (not started by this script)"
    fi
    return 0
  fi
  echo "kafka: not running at $FIRST_BROKER"
  return 1
}

# Serialises start/stop/reset, so parallel callers (e.g. test workers) launch one broker.
take_lock() {
  mkdir -p "$HOME_DIR"
  exec 9>"$HOME_DIR/.lock"
  flock 9
}

main() {
  case "${1:-}" in
    start) take_lock; cmd_start ;;
    stop) take_lock; stop_broker ;;
    status) cmd_status ;;
    fetch) take_lock; mkdir -p "$LOGS"; ensure_jars ;;
    reset)
      take_lock
      stop_broker
      rm -rf "$DATA"
      echo "kafka: data removed (jars kept)"
      ;;
    *) die "usage: scripts/kafka.sh start|stop|status|reset|fetch" ;;
  esac
}

main "$@"
