#!/usr/bin/env bash
# Runs the whole Tally stack on this machine without Docker.
#
#   scripts/stack.sh start   install what is missing, start PostgreSQL/Redis/Kafka, migrate, start
#                            auth, metering and quota, seed a demo organization, print a curl line;
#                            then stay in the foreground: Ctrl-C stops everything it started.
#   scripts/stack.sh stop    stop everything a `start` started (from another terminal).
#   scripts/stack.sh status
#   scripts/stack.sh env     print the configuration a `start` gives the apps (NAME=value lines).
#
# The variables below are the apps' configuration (README "Configuration"); override any of them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_TAG=tally
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
RUN_DIR="$ROOT/.tally"
mkdir -p "$RUN_DIR/logs"

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tally}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
# Development rules: short credentials allowed (production needs >= 32 characters, TALLY_ENV=production).
export TALLY_ENV="${TALLY_ENV:-development}"
export SERVICE_TOKENS="${SERVICE_TOKENS:-dev-service-token}"
# auth's own credential towards quota: quota accepts it (below), auth does not.
export QUOTA_SERVICE_TOKEN="${QUOTA_SERVICE_TOKEN:-dev-auth-to-quota-token}"
export API_KEY_PEPPER="${API_KEY_PEPPER:-dev-only-pepper-change-me-0123456789abcdef}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
export AUTH_PORT="${AUTH_PORT:-3001}" METERING_PORT="${METERING_PORT:-3002}" QUOTA_PORT="${QUOTA_PORT:-3003}"
# auth asks quota before every metered action (sandbox.create, sandbox.extend, agent.run).
export QUOTA_URL="${QUOTA_URL:-http://127.0.0.1:$QUOTA_PORT}"
# A development machine runs the apps beside Kafka, PostgreSQL and a compiler on a few cores: the
# admission path gets development deadlines (production keeps the apps' gateway-speed defaults,
# 50 ms in quota and 150 ms for auth's wait), so the first calls after a start are not refused.
export REDIS_TIMEOUT_MS="${REDIS_TIMEOUT_MS:-1000}" ADMISSION_TIMEOUT_MS="${ADMISSION_TIMEOUT_MS:-1000}"
export QUOTA_TIMEOUT_MS="${QUOTA_TIMEOUT_MS:-2000}"
# metering verifies the API keys of /api/orgs/* through auth, with its own credential: auth
# accepts it (below), metering does not.
export AUTH_URL="${AUTH_URL:-http://127.0.0.1:$AUTH_PORT}"
export AUTH_SERVICE_TOKEN="${AUTH_SERVICE_TOKEN:-dev-metering-to-auth-token}"
# Dashboard JWTs (HS256) for key management; `npm run token` signs development ones with it.
export JWT_SECRET="${JWT_SECRET:-dev-only-dashboard-secret-change-me-0123456789}"
APPS=(auth metering quota)
NODE="$ROOT/node_modules/.bin/node"

# The variables exported above, as NAME=value lines: `stack.sh env`, and .tally/stack.env, which
# the tools run after a start (simulate, token) read for whatever their environment does not set.
print_env() {
  local name
  for name in $(sed -n 's/^export //p' "$ROOT/scripts/stack.sh" | grep -oE '(^| )[A-Z_]+=' | tr -d ' ='); do
    printf '%s=%s\n' "$name" "${!name}"
  done
}

port_of() { case "$1" in auth) echo "$AUTH_PORT" ;; metering) echo "$METERING_PORT" ;; quota) echo "$QUOTA_PORT" ;; esac; }
alive() { [[ -f "$1" ]] && pid_alive "$(cat "$1")"; }
gone() { ! alive "$1"; }

stop_all() {
  for app in "${APPS[@]}"; do
    pidfile="$RUN_DIR/$app.pid"
    if alive "$pidfile"; then
      kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  for app in "${APPS[@]}"; do
    pidfile="$RUN_DIR/$app.pid"
    if ! wait_until 10 gone "$pidfile"; then kill -KILL "$(cat "$pidfile")" 2>/dev/null || true; fi
    rm -f "$pidfile"
  done
  # Kafka only if this stack started it; PostgreSQL and Redis are the machine's and stay up.
  if [ -f "$RUN_DIR/kafka.started" ]; then
    bash scripts/kafka.sh stop || true
    rm -f "$RUN_DIR/kafka.started"
  fi
  log "stopped"
}

# Ready, or no longer worth waiting for (the process exited).
ready_or_exited() { curl -fs "http://127.0.0.1:$2/health/ready" || gone "$RUN_DIR/$1.pid"; }

wait_ready() {
  local app=$1 port=$2
  if ! wait_until 60 ready_or_exited "$app" "$port"; then
    err "$app not ready after 60 s; see $RUN_DIR/logs/$app.log"
    return 1
  fi
  if gone "$RUN_DIR/$app.pid"; then
    err "$app exited during start; last log lines:"
    tail -n 20 "$RUN_DIR/logs/$app.log" >&2
    return 1
  fi
}

start() {
  if [[ ! -x "$NODE" || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
  fi
  bash scripts/kafka.sh status >/dev/null 2>&1 || touch "$RUN_DIR/kafka.started"
  TALLY_DATABASES="tally tally_test" bash scripts/services.sh ensure
  log "building"
  "$NODE" node_modules/.bin/tsc -p tsconfig.build.json
  "$NODE" node_modules/.bin/tsc-alias -p tsconfig.build.json
  "$NODE" dist/libs/database/src/cli/migrate.js run
  print_env >"$RUN_DIR/stack.env"

  trap 'echo; stop_all; exit 0' INT TERM
  for app in "${APPS[@]}"; do
    if alive "$RUN_DIR/$app.pid"; then log "$app already running"; continue; fi
    (
      # The app's runtime settings (e.g. metering's heap limits), as the Dockerfile applies them.
      APP=$app
      . scripts/app-runtime.sh
      if [ "$app" = quota ]; then SERVICE_TOKENS="$SERVICE_TOKENS,$QUOTA_SERVICE_TOKEN"; fi
      if [ "$app" = auth ]; then SERVICE_TOKENS="$SERVICE_TOKENS,$AUTH_SERVICE_TOKEN"; fi
      PORT=$(port_of "$app") MIGRATE_ON_START=false exec nohup "$NODE" "dist/apps/$app/src/main.js" \
        >>"$RUN_DIR/logs/$app.log" 2>&1
    ) &
    echo $! >"$RUN_DIR/$app.pid"
  done
  for app in "${APPS[@]}"; do wait_ready "$app" "$(port_of "$app")" || { stop_all; exit 1; }; done
  log "auth :$AUTH_PORT, metering :$METERING_PORT, quota :$QUOTA_PORT (logs in $RUN_DIR/logs, OpenAPI at /docs)"
  "$NODE" dist/scripts/seed-demo.js
  log "ops console: http://127.0.0.1:$METERING_PORT/ops (sign in with the service credential: ${SERVICE_TOKENS%%,*})"
  if [[ "${TALLY_DETACH:-0}" == 1 ]]; then
    log "running in the background; stop with: npm stop"
    return 0
  fi
  log "press Ctrl-C to stop everything (or run 'npm stop' elsewhere)"
  while :; do
    for app in "${APPS[@]}"; do
      if ! alive "$RUN_DIR/$app.pid"; then err "$app exited; see $RUN_DIR/logs/$app.log"; stop_all; exit 1; fi
    done
    sleep 1
  done
}

status() {
  for app in "${APPS[@]}"; do
    if alive "$RUN_DIR/$app.pid"; then echo "$app: running (pid $(cat "$RUN_DIR/$app.pid"))"; else echo "$app: stopped"; fi
  done
  bash scripts/kafka.sh status || true
}

case "${1:-}" in
  start) start ;;
  stop)
    stop_all
    # and the cluster stack (npm run start:cluster), when it runs
    if [ -f "$RUN_DIR/cluster/running" ]; then bash scripts/cluster-stack.sh stop; fi
    ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
