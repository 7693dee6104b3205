#!/usr/bin/env bash
# A moto S3 server (PyPI moto[server]) on 127.0.0.1 for wormlog's tests: an AWS emulator that
# enforces If-None-Match and If-Match also on versioned and Object-Lock buckets.
#
#   scripts/moto.sh start    pip-install moto[server] if missing, start, wait until it answers
#   scripts/moto.sh stop
#   scripts/moto.sh status   exit 0 if it answers
#   scripts/moto.sh env      print the environment tests use to reach it
#
# Idempotent; listens on 127.0.0.1 only; prints its log on failure.
set -euo pipefail

DIR=${WORMLOG_MOTO_DIR:-/tmp/wormlog-moto}
PORT=${WORMLOG_MOTO_PORT:-5055}
VERSION=5.2.5
ENDPOINT="http://127.0.0.1:${PORT}"

log() { printf 'moto.sh: %s\n' "$*" >&2; }
# shellcheck source=scripts/server-lib.sh
. "$(dirname "$0")/server-lib.sh"
answers() { curl -sf -o /dev/null --max-time 2 "$ENDPOINT/moto-api/"; }

start() {
  if answers; then
    log "already running at $ENDPOINT"
    return 0
  fi
  if ! command -v moto_server >/dev/null 2>&1; then
    log "installing moto[server]==$VERSION from PyPI"
    python3 -m pip install -q --disable-pip-version-check "moto[server]==$VERSION" 2>&1 | grep -v 'as the .root. user' >&2 || true
  fi
  command -v curl >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >/dev/null; }
  mkdir -p "$DIR"
  nohup moto_server -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 &
  echo $! >"$DIR/moto.pid"
  await_answer moto "$DIR/moto.log" "moto $VERSION ready at $ENDPOINT"
}

stop() { stop_server "$DIR/moto.pid" "moto_server -H 127.0.0.1 -p $PORT"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  env)
    echo "WORMLOG_MOTO_ENDPOINT=$ENDPOINT"
    echo "WORMLOG_MOTO_ACCESS_KEY=testing"
    echo "WORMLOG_MOTO_SECRET_KEY=testing"
    ;;
  *) echo "usage: scripts/moto.sh start|stop|status|env" >&2; exit 2 ;;
esac
