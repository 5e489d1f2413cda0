# Sourced by the scripts that run Tally's services and apps (stack.sh, services.sh, kafka.sh):
# one way to log, to fail, and to wait for something to come up or go away.
#
#   LOG_TAG=name; . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   log "message"            -> "[name] message" on stdout
#   err "message"            -> "[name] ERROR: message" on stderr
#   die "message"            -> err, then exit 1
#   wait_until SECONDS CMD.. -> 0 as soon as CMD succeeds (polled every 0.25 s), 1 after SECONDS
#   pid_alive PID            -> 0 while the process exists; pid_gone PID: the opposite

log() { echo "[${LOG_TAG:-tally}] $*"; }
err() { echo "[${LOG_TAG:-tally}] ERROR: $*" >&2; }
die() {
  err "$*"
  exit 1
}

wait_until() {
  local secs="$1" i
  shift
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  return 1
}

pid_alive() { [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null; }
pid_gone() { ! pid_alive "$1"; }
