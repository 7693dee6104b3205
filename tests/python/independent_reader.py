#!/usr/bin/env python3
"""An independent reader of a wormlog stream, written from docs/format.md alone: it lists a
stream's segments, reads their JSON lines, finds the event with the given id, and fetches and
checks its document (inline base64, or the attachment object its payload names).

    independent_reader.py ENDPOINT BUCKET ROOT_PREFIX STREAM EVENT_ID OUT_FILE

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Prints one JSON object:
the event's seq, content type, size and SHA-256 as recorded, the SHA-256 of the bytes it
read, and where they came from. Exit 1 if the bytes do not match what the event records.
"""
import base64
import hashlib
import json
import sys
import zlib

import boto3


def main():
    endpoint, bucket, root, stream, event_id, out_file = sys.argv[1:7]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    # The stream's prefix: <root prefix>/<stream>/; its log: P/log/<slot, 20 digits>.
    prefix = f"{root.strip('/')}/{stream}/" if root.strip("/") else f"{stream}/"
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "log/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    keys.sort()  # zero-padded slots: key order is slot order
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        header_line, rest = body.split(b"\n", 1)
        header = json.loads(header_line)
        assert header["wormlog"] in (1, 2, 3), f"unknown format version {header['wormlog']}"
        # The CRC-32 of every byte after the header line.
        assert zlib.crc32(rest) == header["crc32"], f"{key}: CRC mismatch"
        if header["kind"] != "events":
            continue
        for line in rest.splitlines():
            event = json.loads(line)
            if event["id"] != event_id:
                continue
            payload = event["payload"]
            if "base64" in payload:
                data, source = base64.b64decode(payload["base64"]), "inline"
            else:
                source = prefix + payload["attachment"]
                data = s3.get_object(Bucket=bucket, Key=source)["Body"].read()
            with open(out_file, "wb") as f:
                f.write(data)
            digest = hashlib.sha256(data).hexdigest()
            print(json.dumps({
                "seq": event["seq"],
                "content_type": payload["content_type"],
                "bytes": payload["bytes"],
                "sha256": payload["sha256"],
                "read_sha256": digest,
                "read_bytes": len(data),
                "source": source,
            }))
            ok = digest == payload["sha256"] and len(data) == payload["bytes"]
            sys.exit(0 if ok else 1)
    print(f"no event {event_id} in {prefix}", file=sys.stderr)
    sys.exit(2)


main()
