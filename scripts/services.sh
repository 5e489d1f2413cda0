#!/usr/bin/env bash
# Make sure the local services Tally needs are up (no Docker):
#   PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379, Kafka 127.0.0.1:${KAFKA_PORT:-9092}
#
#   scripts/services.sh ensure
#
# Environment:
#   TALLY_DATABASES   databases to create if missing (default "tally tally_test")
#   PGUSER            role used for psql/createdb over TCP (default postgres)
#   TALLY_SKIP_KAFKA  set to 1 to skip `scripts/kafka.sh start`
# Idempotent: running services are left alone. When PostgreSQL/Redis (or
# java/mvn for Kafka) are not installed at all and we are root, they are
# installed with apt-get.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PG_HOST=127.0.0.1
PG_PORT="${TALLY_PG_PORT:-5432}"
REDIS_HOST=127.0.0.1
REDIS_PORT="${TALLY_REDIS_PORT:-6379}"
PGUSER="${PGUSER:-postgres}"
TALLY_DATABASES="${TALLY_DATABASES:-tally tally_test}"

LOG_TAG=services
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

APT_UPDATED=0
apt_install() { # packages...
  if [[ "$(id -u)" != 0 ]]; then
    die "missing packages ($*) and not root; install them with: sudo apt-get install -y $*"
  fi
  command -v apt-get >/dev/null || die "missing packages ($*) and apt-get is not available"
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # seconds description command...
  local secs="$1" what="$2"
  shift 2
  wait_until "$secs" "$@" || die "$what did not come up within ${secs}s"
}

# ------------------------------------------------------------ PostgreSQL --
pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

pg_version() { ls /etc/postgresql 2>/dev/null | head -1; }

ensure_postgres() {
  if ! command -v pg_isready >/dev/null || ! command -v pg_ctlcluster >/dev/null || [[ -z "$(pg_version)" ]]; then
    log "PostgreSQL is not installed"
    apt_install postgresql
  fi
  if pg_up; then
    log "PostgreSQL is up on $PG_HOST:$PG_PORT"
  else
    local ver
    ver="$(pg_version)"
    [[ -n "$ver" ]] || die "no PostgreSQL cluster under /etc/postgresql"
    log "starting PostgreSQL $ver/main"
    if [[ "$(id -u)" == 0 ]]; then
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    else
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
        die "could not start PostgreSQL (try: sudo pg_ctlcluster $ver main start)"
    fi
    wait_for 30 "PostgreSQL on $PG_HOST:$PG_PORT" pg_up
    log "PostgreSQL is up on $PG_HOST:$PG_PORT"
  fi
  ensure_databases
}

# psql as $PGUSER over TCP; as root fall back to the postgres OS user over the
# local socket (peer auth on a freshly installed server).
PSQL_MODE=tcp
run_psql() {
  if [[ "$PSQL_MODE" == tcp ]]; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 "$@"
  else
    runuser -u postgres -- psql -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 "$@"
  fi
}
run_createdb() {
  if [[ "$PSQL_MODE" == tcp ]]; then
    createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PGUSER" "$1"
  else
    runuser -u postgres -- createdb -p "$PG_PORT" "$1"
  fi
}

ensure_databases() {
  if ! run_psql -tc "select 1" >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && id postgres >/dev/null 2>&1 && PSQL_MODE=local run_psql -tc "select 1" >/dev/null 2>&1; then
      PSQL_MODE=local
      log "note: $PGUSER cannot log in over TCP without a password (set PGPASSWORD, or trust 127.0.0.1 in pg_hba.conf); using the local socket to create databases"
    else
      die "cannot connect to PostgreSQL as $PGUSER on $PG_HOST:$PG_PORT"
    fi
  fi
  local db
  for db in $TALLY_DATABASES; do
    [[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad database name '$db'"
    if [[ "$(run_psql -tAc "select 1 from pg_database where datname='$db'")" == 1 ]]; then
      log "database $db exists"
    else
      run_createdb "$db"
      log "created database $db"
    fi
  done
}

# ----------------------------------------------------------------- Redis --
redis_up() { [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

ensure_redis() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "Redis is not installed"
    apt_install redis-server
  fi
  if redis_up; then
    log "Redis is up on $REDIS_HOST:$REDIS_PORT"
    return 0
  fi
  log "starting Redis"
  (cd "${TMPDIR:-/tmp}" && redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" \
     --save "" --appendonly no --dir "${TMPDIR:-/tmp}" >/dev/null)
  wait_for 15 "Redis on $REDIS_HOST:$REDIS_PORT" redis_up
  log "Redis is up on $REDIS_HOST:$REDIS_PORT"
}

# ----------------------------------------------------------------- Kafka --
ensure_kafka() {
  if [[ "${TALLY_SKIP_KAFKA:-0}" == 1 ]]; then
    log "skipping Kafka (TALLY_SKIP_KAFKA=1)"
    return 0
  fi
  local need=()
  command -v java >/dev/null || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || need+=(maven)
  if ((${#need[@]})); then
    log "Kafka needs java and mvn"
    apt_install "${need[@]}"
  fi
  "$SCRIPT_DIR/kafka.sh" start
}

case "${1:-}" in
  ensure)
    ensure_postgres
    ensure_redis
    ensure_kafka
    log "all services up"
    ;;
  *)
    echo "usage: $0 ensure" >&2
    exit 2
    ;;
esac
