# Shared by scripts/moto.sh and scripts/prometheus.sh (sourced, not run): waiting for a
# server started in the background, and stopping it. The caller defines `log`, `answers`
# (exit 0 once the server responds) and DIR (the server's folder, removed on stop).

# await_answer NAME LOGFILE READY_MESSAGE: polls `answers` for 30 s; on time-out prints the
# server's log and exits 1.
await_answer() {
  local name=$1 logfile=$2 ready=$3
  for _ in $(seq 1 150); do
    if answers; then
      log "$ready"
      return 0
    fi
    sleep 0.2
  done
  log "$name did not answer within 30 s; its log follows"
  cat "$logfile" >&2
  exit 1
}

# stop_server PIDFILE PATTERN: kills the recorded process and anything matching PATTERN
# (a server left by an earlier run), then removes DIR.
stop_server() {
  local pidfile=$1 pattern=$2
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  pkill -f "$pattern" 2>/dev/null || true
  rm -rf "$DIR"
  log "stopped"
}
