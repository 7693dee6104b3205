#!/usr/bin/env bash
# A single-node Ceph RGW on 127.0.0.1 for wormlog's tests: one monitor, one memstore OSD
# (in memory, no disk), auth none, and an S3 user with static keys.
#
#   scripts/rgw.sh start    install Debian's radosgw/ceph-mon/ceph-osd if missing, start, wait
#   scripts/rgw.sh stop     stop the daemons and remove the cluster's directory
#   scripts/rgw.sh status   exit 0 if the S3 endpoint answers
#   scripts/rgw.sh env      print the environment tests use to reach it
#
# Idempotent: `start` on a running cluster only checks it answers. Everything listens on
# 127.0.0.1 only. On failure it prints the daemons' logs.
set -euo pipefail

DIR=${WORMLOG_RGW_DIR:-/tmp/wormlog-rgw}
PORT=${WORMLOG_RGW_PORT:-7480}
MON_PORT=${WORMLOG_RGW_MON_PORT:-3300}
ACCESS_KEY=wormlogrgwaccess
SECRET_KEY=wormlogrgwsecret
ENDPOINT="http://127.0.0.1:${PORT}"

log() { printf 'rgw.sh: %s\n' "$*" >&2; }

answers() { curl -sf -o /dev/null --max-time 2 "$ENDPOINT/"; }

show_logs() {
  log "the cluster did not come up; its logs follow"
  for f in "$DIR"/log/*.log; do
    [ -f "$f" ] || continue
    printf '\n----- %s (last 40 lines)\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

install_packages() {
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null \
    && command -v curl >/dev/null && return 0
  log "installing radosgw, ceph-mon, ceph-osd from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -q --no-install-recommends radosgw ceph-mon ceph-osd ceph-common curl >/dev/null
}

write_config() {
  local fsid=$1
  cat > "$DIR/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
# The monitor refuses to start below 5% free disk by default; its data here is a few MB and
# the OSD lives in memory, so a fairly full shared disk must not stop the tests.
mon data avail crit = 1
mon data avail warn = 2
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 8589934592
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
[mon.a]
mon data = $DIR/mon.a
[osd.0]
osd data = $DIR/osd.0
[client.rgw.a]
# With auth none, RGW's monitor client finds no connection mode unless crc is allowed.
ms mon client mode = crc secure
ms client mode = crc secure
# tcp_nodelay: without it a response whose headers and body go out in two writes waits for
# the client's delayed ACK (Nagle): 40 ms on every GET and LIST over loopback, measured.
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
# RGW frees a deleted object's data in its garbage collector, by default two hours later; the
# memstore OSD lives in memory, so what tests and benchmarks delete is freed within seconds
# (a full OSD stops every write).
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw data = $DIR/rgw
CONF
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "timed out after ${secs}s waiting for $what"
  show_logs
  exit 1
}

start() {
  if answers; then
    log "already running at $ENDPOINT"
    return 0
  fi
  install_packages
  stop_daemons
  rm -rf "$DIR"
  mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw}
  local fsid
  fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  write_config "$fsid"
  local c=(-c "$DIR/ceph.conf")
  monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-mon "${c[@]}" --mkfs -i a --monmap "$DIR/monmap" 2>>"$DIR/log/setup.log"
  ceph-mon "${c[@]}" -i a 2>>"$DIR/log/setup.log"
  wait_for 30 "the monitor" timeout 5 ceph "${c[@]}" mon stat
  ceph "${c[@]}" osd create >/dev/null
  ceph-osd "${c[@]}" --mkfs -i 0 2>>"$DIR/log/setup.log"
  ceph-osd "${c[@]}" -i 0 2>>"$DIR/log/setup.log"
  wait_for 60 "the OSD" sh -c "timeout 5 ceph -c '$DIR/ceph.conf' osd stat | grep -q '1 up'"
  radosgw "${c[@]}" -n client.rgw.a 2>>"$DIR/log/setup.log"
  wait_for 90 "the S3 endpoint at $ENDPOINT" answers
  # Every test makes a fresh bucket, so a server kept up across several full runs passes
  # RGW's default of 1000 buckets per user (TooManyBuckets): allow far more.
  radosgw-admin "${c[@]}" user create --uid=wormlog --display-name=wormlog \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" --max-buckets=100000 \
    >/dev/null 2>>"$DIR/log/setup.log"
  log "Ceph RGW $(radosgw --version | awk '{print $3}') ready at $ENDPOINT"
}

stop_daemons() {
  for d in radosgw ceph-osd ceph-mon; do
    for pidf in "$DIR"/run/*.pid; do
      [ -f "$pidf" ] || continue
      local pid; pid=$(cat "$pidf")
      if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$d" ]; then kill "$pid" 2>/dev/null || true; fi
    done
  done
  pkill -f "radosgw -c $DIR/ceph.conf" 2>/dev/null || true
  pkill -f "ceph-osd -c $DIR/ceph.conf" 2>/dev/null || true
  pkill -f "ceph-mon -c $DIR/ceph.conf" 2>/dev/null || true
  # A radosgw with requests stuck on a full OSD can ignore SIGTERM for a long time: wait up
  # to 10 s, then kill what is left, so a restart never finds a half-stopped cluster.
  for _ in $(seq 1 50); do
    pgrep -f -- "-c $DIR/ceph.conf" >/dev/null || return 0
    sleep 0.2
  done
  pkill -9 -f -- "-c $DIR/ceph.conf" 2>/dev/null || true
  sleep 0.5
}

case "${1:-}" in
  start) start ;;
  stop) stop_daemons; rm -rf "$DIR"; log "stopped" ;;
  status) answers ;;
  # Deletes a bucket and everything in it (benchmark data must not fill the memstore OSD).
  drop-bucket)
    radosgw-admin -c "$DIR/ceph.conf" bucket rm --bucket="${2:?usage: scripts/rgw.sh drop-bucket NAME}" --purge-objects --bypass-gc >/dev/null
    log "bucket $2 deleted"
    ;;
  env)
    echo "WORMLOG_RGW_ENDPOINT=$ENDPOINT"
    echo "WORMLOG_RGW_ACCESS_KEY=$ACCESS_KEY"
    echo "WORMLOG_RGW_SECRET_KEY=$SECRET_KEY"
    ;;
  *) echo "usage: scripts/rgw.sh start|stop|status|env|drop-bucket NAME" >&2; exit 2 ;;
esac
