#!/usr/bin/env bash
# The Python package's benchmark section (called by `scripts/bench.sh --python`): installs
# the package (release build, maturin), starts moto, runs scripts/bench_python.py and
# deletes the bucket it wrote.
#
#   scripts/bench_python.sh BIN RAW_DIR OUT_DIR [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 RAW=$2 OUT=$3
QUICK=${4:-}
python3 -m pip install -q --disable-pip-version-check ./crates/wormlog-py 2>&1 | { grep -v 'as the .root. user' >&2 || true; }
scripts/moto.sh start >&2
eval "$(scripts/moto.sh env)"
export AWS_ACCESS_KEY_ID="$WORMLOG_MOTO_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$WORMLOG_MOTO_SECRET_KEY" AWS_EC2_METADATA_DISABLED=true
BUCKET="wl-bench-py-$(date +%s)"
python3 - "$WORMLOG_MOTO_ENDPOINT" "$BUCKET" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").create_bucket(Bucket=sys.argv[2])
PY
cleanup() {
  python3 - "$WORMLOG_MOTO_ENDPOINT" "$BUCKET" <<'PY' || echo "bench_python.sh: could not delete bucket $BUCKET on moto" >&2
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
bucket = sys.argv[2]
while True:
    page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
    batch = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    if not batch:
        break
    s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
s3.delete_bucket(Bucket=bucket)
PY
}
trap cleanup EXIT
STORE="s3://${BUCKET}/bench?endpoint=${WORMLOG_MOTO_ENDPOINT}&region=us-east-1&path_style=true"
python3 scripts/bench_python.py "$BIN" "$RAW" "$OUT" "$STORE" "$WORMLOG_MOTO_ENDPOINT" $QUICK
