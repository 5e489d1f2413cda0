#!/usr/bin/env bash
# A local N-node Apache Kafka cluster (KRaft; every node a combined broker and controller), from
# the same pinned jars as scripts/kafka.sh, which runs each node.
#
#   scripts/kafka-cluster.sh start | stop | status | clean | brokers
#   scripts/kafka-cluster.sh start-node|stop-node|kill-node <n>      one node (1..N); kill = SIGKILL
#
# Environment:
#   KAFKA_CLUSTER_NODES   how many nodes (default 3)
#   KAFKA_CLUSTER_PORT    node n listens on PORT+2(n-1), its controller on the port after (default
#                         29092: 29092/29093, 29094/29095, 29096/29097). Never 9092, the machine's broker.
#   KAFKA_HEAP_OPTS       per node (default -Xms128m -Xmx320m)
#   KAFKA_READY_TIMEOUT   seconds each node may take to answer (default 180)
#   TALLY_STATE           state root (default ~/.cache/tally/state); this cluster lives in
#                         $TALLY_STATE/kafka-cluster-<port>/ (cluster.id, one kafka-<port>/ per node)
# Replication: internal topics and default.replication.factor min(N, 3), min.insync.replicas 2
# from 3 nodes (1 below); Tally's own topics take theirs from KAFKA_REPLICATION_FACTOR and
# KAFKA_MIN_INSYNC_REPLICAS (README).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODES="${KAFKA_CLUSTER_NODES:-3}"
BASE_PORT="${KAFKA_CLUSTER_PORT:-29092}"
STATE_ROOT="${TALLY_STATE:-$HOME/.cache/tally/state}"
CLUSTER_STATE="$STATE_ROOT/kafka-cluster-$BASE_PORT"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx320m}"
export KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-180}"
HOST=127.0.0.1

log() { echo "[kafka-cluster:$BASE_PORT] $*"; }
die() { echo "[kafka-cluster:$BASE_PORT] ERROR: $*" >&2; exit 1; }

[[ "$NODES" =~ ^[1-9]$ ]] || die "KAFKA_CLUSTER_NODES must be 1..9"
[[ "$BASE_PORT" =~ ^[0-9]+$ ]] && ((BASE_PORT > 1024 && BASE_PORT + 2 * NODES < 65535)) || die "bad KAFKA_CLUSTER_PORT"

port_of() { echo $((BASE_PORT + 2 * ($1 - 1))); }
for ((n = 1; n <= NODES; n++)); do
  p="$(port_of "$n")"
  [[ "$p" != 9092 && "$((p + 1))" != 9092 && "$p" != 9093 ]] || die "9092/9093 belong to the machine's broker; choose another KAFKA_CLUSTER_PORT"
done

voters() {
  local n list=()
  for ((n = 1; n <= NODES; n++)); do list+=("$n@$HOST:$(($(port_of "$n") + 1))"); done
  (IFS=,; echo "${list[*]}")
}

cluster_id() { # one id for every node's storage, kept with the cluster's state
  mkdir -p "$CLUSTER_STATE"
  if [[ ! -s "$CLUSTER_STATE/cluster.id" ]]; then
    local id=-
    while [[ "$id" == -* ]]; do id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; done
    echo "$id" >"$CLUSTER_STATE/cluster.id"
  fi
  cat "$CLUSTER_STATE/cluster.id"
}

node() { # n command -> scripts/kafka.sh <command> as node n of this cluster
  local n="$1" replication=$((NODES < 3 ? NODES : 3))
  KAFKA_PORT="$(port_of "$n")" KAFKA_NODE_ID="$n" KAFKA_QUORUM_VOTERS="$(voters)" \
    KAFKA_CLUSTER_ID="$CLUSTER_ID" KAFKA_REPLICATION="$replication" KAFKA_MIN_ISR=$((replication >= 3 ? 2 : 1)) \
    TALLY_STATE="$CLUSTER_STATE" bash "$SCRIPT_DIR/kafka.sh" "$2"
}

brokers() {
  local n list=()
  for ((n = 1; n <= NODES; n++)); do list+=("$HOST:$(port_of "$n")"); done
  (IFS=,; echo "${list[*]}")
}

all_nodes() { # command: on every node at once (a KRaft quorum needs a majority up before any node is ready)
  local n pids=() failed=0
  for ((n = 1; n <= NODES; n++)); do node "$n" "$1" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

node_arg() {
  [[ "${1:-}" =~ ^[1-9]$ ]] && (($1 <= NODES)) || die "node number 1..$NODES expected"
}

cmd_kill_node() {
  local pidfile
  pidfile="$CLUSTER_STATE/kafka-$(port_of "$1")/kafka.pid"
  [[ -s "$pidfile" ]] && kill -KILL "$(cat "$pidfile")" 2>/dev/null && log "node $1 killed (SIGKILL)" || log "node $1 was not running"
}

# Before any node starts (they start in parallel): every node formats with this one id.
[[ "${1:-}" == brokers ]] || CLUSTER_ID="$(cluster_id)"

case "${1:-}" in
  start) all_nodes start && log "ready: KAFKA_BROKERS=$(brokers)" ;;
  stop) all_nodes stop ;;
  status) all_nodes status ;;
  clean) all_nodes stop; rm -rf "$CLUSTER_STATE"; log "removed $CLUSTER_STATE" ;;
  brokers) brokers ;;
  start-node) node_arg "${2:-}"; node "$2" start ;;
  stop-node) node_arg "${2:-}"; node "$2" stop ;;
  kill-node) node_arg "${2:-}"; cmd_kill_node "$2" ;;
  *) echo "usage: [KAFKA_CLUSTER_NODES=3] [KAFKA_CLUSTER_PORT=29092] $0 start|stop|status|clean|brokers|start-node|stop-node|kill-node [n]" >&2; exit 2 ;;
esac
