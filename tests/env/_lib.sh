# shellcheck shell=bash
# Shared helpers for tests/env/<component>/start|stop scripts (sourced, not executed).
# Conventions: pid files STATE_DIR/pids/NAME.pid, logs STATE_DIR/logs/NAME.log,
# progress on stderr, only KEY=VALUE lines on stdout.

ENV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MLOPS_CACHE="${MLOPS_CACHE:-$HOME/.cache/mlops-console}"

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${COMPONENT:-env}" "$*" >&2; }

# die STEP COMMAND [LOGFILE] - report a failed step and exit non-zero.
die() {
  local step="$1" cmd="${2:-}" logf="${3:-}"
  {
    echo "ERROR [${COMPONENT:-env}] step failed: $step"
    [ -n "$cmd" ] && echo "  command: $cmd"
    if [ -n "$logf" ] && [ -f "$logf" ]; then
      echo "  --- last 40 lines of $logf ---"
      tail -n 40 "$logf" | sed 's/^/  | /'
    fi
  } >&2
  exit 1
}

# init_state STATE_DIR - create layout, set STATE_DIR/PIDS_DIR/LOGS_DIR (absolute).
init_state() {
  [ -n "${1:-}" ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
  mkdir -p "$1/pids" "$1/logs" || exit 1
  STATE_DIR="$(cd "$1" && pwd)"
  PIDS_DIR="$STATE_DIR/pids"
  LOGS_DIR="$STATE_DIR/logs"
}

pidfile() { echo "$PIDS_DIR/$1.pid"; }
logfile() { echo "$LOGS_DIR/$1.log"; }

# alive PID - true if PID exists and is not a zombie (an exited daemon whose parent is
# init may stay a zombie for a while, and kill -0 succeeds on zombies).
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)"
  [ "$st" != Z ]
}

# is_running NAME - true if the pid in NAME.pid is alive.
is_running() {
  local f pid; f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  alive "$pid"
}

# port_free PORT - true if 127.0.0.1:PORT can be bound right now.
port_free() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the servers do: TIME_WAIT is fine
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# pick_port BASE - first free port in [BASE, BASE+200); ports in use are skipped.
pick_port() {
  local p
  for ((p = $1; p < $1 + 200; p++)); do
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

# start_daemon NAME CMD... - start CMD in its own session (pid == process group id),
# stdout/stderr appended to the NAME log, pid written to NAME.pid.
start_daemon() {
  local name="$1"; shift
  local lf; lf="$(logfile "$name")"
  printf '\n===== %s starting %s: %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$lf"
  printf '%q ' "$@" >"$PIDS_DIR/$name.cmd"
  # no inherited lock/pipe fds: a daemon must not keep a caller's flock or pipe open
  setsid "$@" >>"$lf" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$(pidfile "$name")"
}

# wait_healthy NAME TIMEOUT_S CHECK_CMD... - poll CHECK_CMD every 0.5s until it
# succeeds; fail fast if the process died, fail after TIMEOUT_S.
wait_healthy() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! is_running "$name"; then
      die "wait for $name health (process exited)" "$(cat "$PIDS_DIR/$name.cmd" 2>/dev/null)" "$(logfile "$name")"
    fi
    sleep 0.5
  done
  die "wait for $name health (timeout ${timeout}s; check: $*)" "$(cat "$PIDS_DIR/$name.cmd" 2>/dev/null)" "$(logfile "$name")"
}

# http_ok URL [USER:PASS] - true on a 2xx answer within 3 seconds.
http_ok() {
  if [ -n "${2:-}" ]; then
    curl -fsS -m 3 -u "$2" -o /dev/null "$1"
  else
    curl -fsS -m 3 -o /dev/null "$1"
  fi
}

# stop_daemon NAME [GRACE_S] - TERM the process group, then KILL after GRACE_S.
stop_daemon() {
  local name="$1" grace="${2:-10}" f pid i
  f="$(pidfile "$name")"
  [ -f "$f" ] || return 0
  pid="$(cat "$f" 2>/dev/null)"
  if alive "$pid"; then
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < grace * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "$name did not exit after ${grace}s, sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
    # children that left the group leader behind (same process group)
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f" "$PIDS_DIR/$name.cmd"
}

# save_out NAME < KEY=VALUE lines ; print_out NAME
save_out() { mkdir -p "$STATE_DIR/out"; cat >"$STATE_DIR/out/$1.env"; }
print_out() { cat "$STATE_DIR/out/$1.env"; }
out_value() { sed -n "s/^$2=//p" "$STATE_DIR/out/$1.env" 2>/dev/null | head -n 1; }
