#!/usr/bin/env bash
# Tally past one machine, on this one: a 3-node Kafka cluster, a Redis Cluster (3 primaries + 3
# replicas), 2 auth, 2 quota and 3 metering instances, the demo organization.
#
#   scripts/cluster-stack.sh start   (npm run start:cluster) foreground: Ctrl-C stops everything it
#                                    started; TALLY_DETACH=1 returns once it is up
#   scripts/cluster-stack.sh stop    (npm stop stops it too)
#   scripts/cluster-stack.sh status
#
# Its own ports, never those of `npm start` (3001-3003, 9092, 6379): auth 3101-3102, quota
# 3111-3112, metering 3121-3123 (CLUSTER_PORT_BASE=3100 moves them), Kafka 29092-29097, Redis
# 7101-7106; its own database (tally_cluster). Auth instance i asks quota instance i.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR="$ROOT/.tally/cluster"
mkdir -p "$RUN_DIR/logs"
NODE="$ROOT/node_modules/.bin/node"
BASE="${CLUSTER_PORT_BASE:-3100}"

export DATABASE_URL="${CLUSTER_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tally_cluster}"
export KAFKA_BROKERS REDIS_URL
KAFKA_BROKERS="$(bash scripts/kafka-cluster.sh brokers)"
REDIS_URL="$(bash scripts/redis-cluster.sh url)"
export KAFKA_REPLICATION_FACTOR=3 KAFKA_MIN_INSYNC_REPLICAS=2
# Development rules, as `npm start` sets them (scripts/stack.sh): short credentials, one per callee.
export TALLY_ENV="${TALLY_ENV:-development}"
export SERVICE_TOKENS="${SERVICE_TOKENS:-dev-service-token}"
export QUOTA_SERVICE_TOKEN="${QUOTA_SERVICE_TOKEN:-dev-auth-to-quota-token}"
export API_KEY_PEPPER="${API_KEY_PEPPER:-dev-only-pepper-change-me-0123456789abcdef}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
# Development deadlines on the admission path, as `npm start` sets them (scripts/stack.sh).
export REDIS_TIMEOUT_MS="${REDIS_TIMEOUT_MS:-1000}" ADMISSION_TIMEOUT_MS="${ADMISSION_TIMEOUT_MS:-1000}"
export QUOTA_TIMEOUT_MS="${QUOTA_TIMEOUT_MS:-2000}"
export AUTH_URL="${AUTH_URL:-http://127.0.0.1:$((BASE + 1))}" AUTH_SERVICE_TOKEN="${AUTH_SERVICE_TOKEN:-dev-metering-to-auth-token}"
export JWT_SECRET="${JWT_SECRET:-dev-only-dashboard-secret-change-me-0123456789}"
# Small heaps: seven Node.js processes, three JVMs and six Redis servers share this machine.
APP_NODE_OPTIONS="${CLUSTER_NODE_OPTIONS:---max-old-space-size=128}"
export METERING_NODE_OPTIONS="${METERING_NODE_OPTIONS---max-semi-space-size=8 --max-old-space-size=128}"

INSTANCES=(auth-1 auth-2 quota-1 quota-2 metering-1 metering-2 metering-3)
port_of() { # auth-2 -> 3102, quota-1 -> 3111, metering-3 -> 3123
  local app=${1%-*} n=${1##*-}
  case "$app" in auth) echo $((BASE + n)) ;; quota) echo $((BASE + 10 + n)) ;; metering) echo $((BASE + 20 + n)) ;; esac
}
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_instance() { # auth-1 ...
  local name=$1 app=${1%-*} n=${1##*-}
  if alive "$RUN_DIR/$name.pid"; then echo "tally-cluster: $name already running"; return; fi
  (
    APP=$app
    NODE_OPTIONS=$APP_NODE_OPTIONS
    [ "$app" != metering ] || NODE_OPTIONS= # app-runtime.sh sets metering's own
    . scripts/app-runtime.sh
    # Each callee also accepts its caller's own credential (auth's for quota, metering's for auth).
    if [ "$app" = quota ]; then SERVICE_TOKENS="$SERVICE_TOKENS,$QUOTA_SERVICE_TOKEN"; fi
    if [ "$app" = auth ]; then SERVICE_TOKENS="$SERVICE_TOKENS,$AUTH_SERVICE_TOKEN"; fi
    export NODE_OPTIONS PORT MIGRATE_ON_START=false QUOTA_URL="http://127.0.0.1:$(port_of "quota-$n")"
    PORT=$(port_of "$name")
    exec nohup "$NODE" "dist/apps/$app/src/main.js" >>"$RUN_DIR/logs/$name.log" 2>&1
  ) &
  echo $! >"$RUN_DIR/$name.pid"
}

wait_ready() {
  local name=$1 port
  port=$(port_of "$1")
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    if ! alive "$RUN_DIR/$name.pid"; then
      echo "tally-cluster: $name exited during start; last log lines:" >&2
      tail -n 20 "$RUN_DIR/logs/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "tally-cluster: $name not ready after 120 s; see $RUN_DIR/logs/$name.log" >&2
  return 1
}

stop_all() {
  local name pidfile
  for name in "${INSTANCES[@]}"; do alive "$RUN_DIR/$name.pid" && kill -TERM "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null || true; done
  for name in "${INSTANCES[@]}"; do
    pidfile="$RUN_DIR/$name.pid"
    for _ in $(seq 1 100); do alive "$pidfile" || break; sleep 0.1; done
    alive "$pidfile" && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  bash scripts/kafka-cluster.sh stop >/dev/null 2>&1 || true
  bash scripts/redis-cluster.sh stop >/dev/null 2>&1 || true
  rm -f "$RUN_DIR/running"
  echo "tally-cluster: stopped"
}

print_endpoints() {
  local name
  echo "tally-cluster: up. Kafka $KAFKA_BROKERS (replication 3, min.insync.replicas 2); Redis $REDIS_URL"
  for name in "${INSTANCES[@]}"; do
    echo "  $name  http://127.0.0.1:$(port_of "$name")  (OpenAPI /docs, /health/ready, /metrics; log $RUN_DIR/logs/$name.log)"
  done
}

start() {
  [ -x "$NODE" ] || npm ci --no-audit --no-fund
  touch "$RUN_DIR/running"
  TALLY_SKIP_KAFKA=1 TALLY_DATABASES="tally_cluster" bash scripts/services.sh ensure
  trap 'echo; stop_all; exit 0' INT TERM
  bash scripts/redis-cluster.sh start
  bash scripts/kafka-cluster.sh start >"$RUN_DIR/logs/kafka-cluster.log" 2>&1 ||
    { tail -n 5 "$RUN_DIR/logs/kafka-cluster.log" >&2; stop_all; exit 1; }
  echo "tally-cluster: building"
  "$NODE" node_modules/.bin/tsc -p tsconfig.build.json
  "$NODE" node_modules/.bin/tsc-alias -p tsconfig.build.json
  "$NODE" dist/libs/database/src/cli/migrate.js run
  local name
  for name in "${INSTANCES[@]}"; do start_instance "$name"; done
  for name in "${INSTANCES[@]}"; do wait_ready "$name" || { stop_all; exit 1; }; done
  print_endpoints
  AUTH_PORT=$(port_of auth-1) QUOTA_PORT=$(port_of quota-1) "$NODE" dist/scripts/seed-demo.js
  if [ "${TALLY_DETACH:-0}" = 1 ]; then echo "tally-cluster: running in the background; stop with: npm stop"; return 0; fi
  echo "tally-cluster: press Ctrl-C to stop everything (or run 'npm stop' elsewhere)"
  while :; do
    for name in "${INSTANCES[@]}"; do
      alive "$RUN_DIR/$name.pid" || { echo "tally-cluster: $name exited; see $RUN_DIR/logs/$name.log" >&2; stop_all; exit 1; }
    done
    sleep 1
  done
}

status() {
  local name
  for name in "${INSTANCES[@]}"; do
    if alive "$RUN_DIR/$name.pid"; then echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"), :$(port_of "$name"))"; else echo "$name: stopped"; fi
  done
  bash scripts/kafka-cluster.sh status || true
  bash scripts/redis-cluster.sh status || true
}

case "${1:-}" in
  start) start ;;
  stop) stop_all ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
