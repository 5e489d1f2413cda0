#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller) on
# this machine without Docker.
#
#   scripts/kafka.sh start     start the broker (resolving its jars once) and wait until it answers
#   scripts/kafka.sh stop      stop it (SIGTERM, SIGKILL after 30 s)
#   scripts/kafka.sh restart   stop, then start
#   scripts/kafka.sh status    running or not (exit 1 when not running)
#   scripts/kafka.sh clean     stop and remove this port's state (data, logs)
#
# Environment:
#   KAFKA_PORT             PLAINTEXT listener port           (default 9092)
#   KAFKA_CONTROLLER_PORT  CONTROLLER listener port          (default KAFKA_PORT+1)
#   KAFKA_HEAP_OPTS        JVM heap                          (default -Xms256m -Xmx1g)
#   KAFKA_READY_TIMEOUT    seconds start waits for readiness (default 90)
#   TALLY_CACHE            jar cache root                    (default ~/.cache/tally)
#   TALLY_STATE            state root (data, logs, pid)      (default ~/.cache/tally/state)
#   KAFKA_CDS              1 = use/create an AppCDS archive in the cache (default 1)
#   KAFKAJS_RESOLVE_FROM   dir to resolve kafkajs from for the readiness probe
#                          (default: repo root; falls back to a Java AdminClient probe)
# One node of a cluster (scripts/kafka-cluster.sh sets these; defaults: a single node):
#   KAFKA_NODE_ID          node.id                            (default 1)
#   KAFKA_QUORUM_VOTERS    controller.quorum.voters           (default <id>@127.0.0.1:<controller port>)
#   KAFKA_CLUSTER_ID       cluster id to format storage with  (default: a random one)
#   KAFKA_REPLICATION      replication of internal topics and default.replication.factor (default 1)
#   KAFKA_MIN_ISR          min.insync.replicas                (default 1)
#
# Jars are resolved once with mvn into $TALLY_CACHE/kafka-<version>/ (lib/ +
# classpath); a warm cache never runs mvn. Each port gets its own state dir
# $TALLY_STATE/kafka-<port>/ (data/, server.properties, kafka.log, kafka.pid),
# so KAFKA_PORT=19092 scripts/kafka.sh start runs a second independent broker.
set -euo pipefail

KAFKA_VERSION=4.4.0   # pinned; keep in sync with scripts/kafka/pom.xml

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
KAFKA_SUPPORT_DIR="$SCRIPT_DIR/kafka"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOST=127.0.0.1
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_QUORUM_VOTERS="${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}"
KAFKA_REPLICATION="${KAFKA_REPLICATION:-1}"
KAFKA_MIN_ISR="${KAFKA_MIN_ISR:-1}"
CACHE_ROOT="${TALLY_CACHE:-$HOME/.cache/tally}"
STATE_ROOT="${TALLY_STATE:-$HOME/.cache/tally/state}"

CACHE_DIR="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIB_DIR="$CACHE_DIR/lib"
CLASSPATH_FILE="$CACHE_DIR/classpath"
CDS_ARCHIVE="$CACHE_DIR/broker-cds.jsa"
STATE_DIR="$STATE_ROOT/kafka-$KAFKA_PORT"
DATA_DIR="$STATE_DIR/data"
PROPS_FILE="$STATE_DIR/server.properties"
LOG4J_FILE="$STATE_DIR/log4j2.properties"
LOG_FILE="$STATE_DIR/kafka.log"
PID_FILE="$STATE_DIR/kafka.pid"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

LOG_TAG="kafka:$KAFKA_PORT"
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------- helpers --

port_open() { # port -> 0 if something accepts TCP connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null
}

# Prints the broker pid if the pid file points at a live broker for THIS state dir.
broker_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # guard against pid reuse: the process must be our java running this config
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$PROPS_FILE" || return 1
  fi
  echo "$pid"
}

ensure_jars() {
  [[ -s "$CLASSPATH_FILE" ]] && return 0
  command -v mvn >/dev/null || { err "mvn not found (needed once to resolve Kafka $KAFKA_VERSION)"; exit 1; }
  mkdir -p "$CACHE_ROOT"
  # serialize concurrent cold starts (e.g. 9092 and 19092 at once)
  exec 9>"$CACHE_ROOT/kafka-$KAFKA_VERSION.lock"
  flock 9
  if [[ -s "$CLASSPATH_FILE" ]]; then flock -u 9; return 0; fi
  log "resolving Apache Kafka $KAFKA_VERSION with mvn into $CACHE_DIR (one-time)..."
  local work="$CACHE_DIR.tmp.$$"
  rm -rf "$work" && mkdir -p "$work/lib"
  cp "$KAFKA_SUPPORT_DIR/pom.xml" "$work/pom.xml"
  if ! (cd "$work" && mvn -q -B dependency:copy-dependencies \
          -Dkafka.version="$KAFKA_VERSION" \
          -DincludeScope=runtime \
          -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1); then
    err "mvn failed; see $work/mvn.log"; tail -n 30 "$work/mvn.log" >&2 || true
    flock -u 9; exit 1
  fi
  [[ -f "$work/lib/kafka_2.13-$KAFKA_VERSION.jar" ]] || { err "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"; flock -u 9; exit 1; }
  rm -rf "$CACHE_DIR"
  mkdir -p "$CACHE_DIR"
  mv "$work/lib" "$LIB_DIR"
  cp "$work/pom.xml" "$CACHE_DIR/pom.xml"
  rm -rf "$work"
  # classpath file written last: its presence marks a complete cache
  local jars=("$LIB_DIR"/*.jar)
  (IFS=:; echo "${jars[*]}") >"$CLASSPATH_FILE.tmp"
  mv "$CLASSPATH_FILE.tmp" "$CLASSPATH_FILE"
  log "cached ${#jars[@]} jars"
  flock -u 9
}

write_config() {
  mkdir -p "$STATE_DIR" "$DATA_DIR"
  cat >"$PROPS_FILE" <<EOF
# generated by scripts/kafka.sh (Kafka $KAFKA_VERSION) -- rewritten on every start
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=$KAFKA_REPLICATION
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR
min.insync.replicas=$KAFKA_MIN_ISR
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=104857600
EOF
  cat >"$LOG4J_FILE" <<'EOF'
# generated by scripts/kafka.sh: everything to stdout, which is appended to kafka.log
status = warn
name = tally-kafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.requestchannel.name = kafka.network.RequestChannel$
logger.requestchannel.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
}

java_opts() {
  # shellcheck disable=SC2206
  JAVA_OPTS=($KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$LOG4J_FILE" "-Dkafka.logs.dir=$STATE_DIR")
}

format_storage() {
  [[ -f "$DATA_DIR/meta.properties" ]] && return 0
  local cluster_id
  # cluster id = 16 random bytes, base64url without padding (what `random-uuid` prints)
  # (like Kafka's Uuid.randomUuid, never starting with '-', which argparse would take for an option)
  cluster_id="${KAFKA_CLUSTER_ID:--}"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting KRaft storage in $DATA_DIR (cluster id $cluster_id)"
  java_opts
  if ! java "${JAVA_OPTS[@]}" -XX:TieredStopAtLevel=1 -cp "$(cat "$CLASSPATH_FILE")" kafka.tools.StorageTool \
        format -t "$cluster_id" -c "$PROPS_FILE" >>"$LOG_FILE" 2>&1; then
    err "storage format failed; tail of $LOG_FILE:"; tail -n 40 "$LOG_FILE" >&2; exit 1
  fi
}

# Readiness: a real Metadata request. kafkajs (from the repo's node_modules) if
# resolvable, else a Java AdminClient probe using the cached kafka-clients jar.
KAFKAJS_FROM="${KAFKAJS_RESOLVE_FROM:-$REPO_ROOT}"
have_kafkajs() {
  command -v node >/dev/null &&
    node -e "require.resolve('kafkajs',{paths:[process.argv[1]]})" "$KAFKAJS_FROM" 2>/dev/null
}
have_probe() { have_kafkajs || [[ -s "$CLASSPATH_FILE" ]]; }

# One process polls until the deadline (a metadata request per attempt): starting a JVM or Node
# per attempt, as wait_until would, costs more than the wait.
broker_ready() { # timeout_seconds [pid] -> 0 when the broker answers a metadata request
  local timeout="$1" pid="${2:-}" from="$KAFKAJS_FROM"
  if have_kafkajs; then
    KAFKA_BROKER_PID="$pid" node "$KAFKA_SUPPORT_DIR/wait-ready.js" "$BOOTSTRAP" "$timeout" "$from"
  else
    # JDK source launcher, one JVM polling until the deadline
    KAFKA_BROKER_PID="$pid" java -Xmx64m -XX:TieredStopAtLevel=1 -Dlog4j2.level=ERROR \
      -cp "$(cat "$CLASSPATH_FILE")" "$KAFKA_SUPPORT_DIR/WaitReady.java" "$BOOTSTRAP" "$timeout"
  fi
}

# --------------------------------------------------------------- commands --

cmd_status() {
  local pid
  if pid="$(broker_pid)"; then
    if port_open "$KAFKA_PORT"; then
      log "running (pid $pid, $BOOTSTRAP, Kafka $KAFKA_VERSION, state $STATE_DIR)"
    else
      log "starting (pid $pid, port $KAFKA_PORT not yet listening)"
    fi
    return 0
  fi
  log "stopped"
  return 1
}

cmd_start() {
  local pid
  if pid="$(broker_pid)"; then
    if port_open "$KAFKA_PORT"; then
      log "already running (pid $pid, $BOOTSTRAP)"
      return 0
    fi
    log "process $pid exists but $BOOTSTRAP is not answering yet; waiting"
    if broker_ready "$KAFKA_READY_TIMEOUT" "$pid"; then log "ready"; return 0; fi
    err "broker (pid $pid) did not become ready; tail of $LOG_FILE:"; tail -n 60 "$LOG_FILE" >&2 || true
    return 1
  fi
  rm -f "$PID_FILE"
  if port_open "$KAFKA_PORT"; then
    if have_probe && broker_ready 5 >/dev/null 2>&1; then
      log "a Kafka broker not managed by this script already answers on $BOOTSTRAP; leaving it alone"
      return 0
    fi
    err "port $BOOTSTRAP is in use by another process; choose another KAFKA_PORT"
    return 1
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    err "controller port $KAFKA_HOST:$KAFKA_CONTROLLER_PORT is in use; set KAFKA_CONTROLLER_PORT"
    return 1
  fi

  command -v java >/dev/null || { err "java not found (JDK 17+ required)"; exit 1; }
  local t0=$SECONDS
  ensure_jars
  write_config
  : >>"$LOG_FILE"
  format_storage
  java_opts
  # AppCDS: the first broker that exits cleanly (scripts/kafka.sh stop) dumps the
  # classes it loaded into the cache; later starts map that archive (~2s faster on 2 cores).
  if [[ "${KAFKA_CDS:-1}" == 1 ]]; then
    if [[ -s "$CDS_ARCHIVE" ]]; then
      JAVA_OPTS+=("-XX:SharedArchiveFile=$CDS_ARCHIVE")
    else
      JAVA_OPTS+=("-XX:ArchiveClassesAtExit=$CDS_ARCHIVE.tmp-$KAFKA_PORT")
    fi
  fi
  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT); log $LOG_FILE"
  echo "===== $(date -Is) scripts/kafka.sh start (Kafka $KAFKA_VERSION) =====" >>"$LOG_FILE"
  # setsid + nohup: own session, survives the calling shell / CI step
  setsid nohup java "${JAVA_OPTS[@]}" -cp "$(cat "$CLASSPATH_FILE")" kafka.Kafka "$PROPS_FILE" \
    >>"$LOG_FILE" 2>&1 </dev/null 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  if broker_ready "$KAFKA_READY_TIMEOUT" "$pid"; then
    log "ready (pid $pid) in $((SECONDS - t0))s"
    return 0
  fi
  if kill -0 "$pid" 2>/dev/null; then err "broker did not answer a metadata request within ${KAFKA_READY_TIMEOUT}s; tail of $LOG_FILE:"; else err "broker process exited during startup; tail of $LOG_FILE:"; fi
  tail -n 60 "$LOG_FILE" >&2 || true
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  return 1
}

cmd_stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local killed=0
  if ! wait_until 30 pid_gone "$pid"; then
    killed=1
    log "still alive after 30s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 5 pid_gone "$pid" || true
  fi
  rm -f "$PID_FILE"
  # publish a class-data-sharing archive dumped at exit (see cmd_start)
  if [[ -s "$CDS_ARCHIVE.tmp-$KAFKA_PORT" ]]; then
    if [[ "$killed" == 0 && ! -s "$CDS_ARCHIVE" ]]; then
      mv -f "$CDS_ARCHIVE.tmp-$KAFKA_PORT" "$CDS_ARCHIVE"
    else
      rm -f "$CDS_ARCHIVE.tmp-$KAFKA_PORT"
    fi
  fi
  log "stopped"
}

cmd_clean() {
  cmd_stop
  rm -rf "$STATE_DIR"
  log "removed $STATE_DIR"
}

# one start/stop/clean at a time per port (the broker itself must not inherit the lock fd)
lock_port() {
  mkdir -p "$STATE_ROOT"
  exec 8>"$STATE_ROOT/kafka-$KAFKA_PORT.lock"
  flock -w 120 8 || { err "timed out waiting for another scripts/kafka.sh on port $KAFKA_PORT"; exit 1; }
}

case "${1:-}" in
  start) lock_port; cmd_start ;;
  stop) lock_port; cmd_stop ;;
  status) cmd_status ;;
  clean) lock_port; cmd_clean ;;
  restart) lock_port; cmd_stop; cmd_start ;;
  *)
    echo "usage: [KAFKA_PORT=9092] $0 start|stop|status|clean|restart" >&2
    exit 2
    ;;
esac
