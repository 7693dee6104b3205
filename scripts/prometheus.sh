#!/usr/bin/env bash
# A Prometheus server (Debian's `prometheus` package) on 127.0.0.1 that scrapes wormlog's
# --metrics-addr endpoint every second: what the metrics test queries a counter back from.
#
#   scripts/prometheus.sh install             apt-get install prometheus if missing
#   scripts/prometheus.sh start HOST:PORT     start (installing if needed), scraping HOST:PORT
#   scripts/prometheus.sh stop
#   scripts/prometheus.sh env                 print the environment tests use to reach it
#
# Listens on 127.0.0.1 only (WORMLOG_PROMETHEUS_PORT, default 9091); its data lives under
# WORMLOG_PROMETHEUS_DIR and goes with `stop`. Prints its log on failure.
set -euo pipefail

DIR=${WORMLOG_PROMETHEUS_DIR:-/tmp/wormlog-prometheus}
PORT=${WORMLOG_PROMETHEUS_PORT:-9091}
ENDPOINT="http://127.0.0.1:${PORT}"

log() { printf 'prometheus.sh: %s\n' "$*" >&2; }
# shellcheck source=scripts/server-lib.sh
. "$(dirname "$0")/server-lib.sh"
answers() { curl -sf -o /dev/null --max-time 2 "$ENDPOINT/-/ready"; }

install() {
  if command -v prometheus >/dev/null 2>&1; then
    return 0
  fi
  log "installing Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends prometheus >/dev/null
  }
  # The package may start its own service where there is an init system: not ours to run.
  pkill -x prometheus 2>/dev/null || true
  command -v curl >/dev/null || apt-get install -y -q curl >/dev/null
}

start() {
  local target=${1:?usage: scripts/prometheus.sh start HOST:PORT}
  case "$target" in
    127.0.0.1:*|localhost:*) ;;
    *) log "the scrape target must be on loopback (got $target)"; exit 2 ;;
  esac
  install
  stop >/dev/null 2>&1 || true
  mkdir -p "$DIR/data"
  cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: wormlog
    static_configs:
      - targets: ["$target"]
EOF
  nohup prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --web.listen-address="127.0.0.1:$PORT" >"$DIR/prometheus.log" 2>&1 &
  echo $! >"$DIR/prometheus.pid"
  await_answer Prometheus "$DIR/prometheus.log" "Prometheus ready at $ENDPOINT, scraping $target"
}

stop() { stop_server "$DIR/prometheus.pid" "web.listen-address=127.0.0.1:$PORT"; }

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop ;;
  env) echo "export WORMLOG_PROMETHEUS_ENDPOINT=$ENDPOINT" ;;
  *) echo "usage: scripts/prometheus.sh install|start HOST:PORT|stop|env" >&2; exit 2 ;;
esac
