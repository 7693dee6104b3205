"""The event store as controllers write it today: one S3 object per event, created with
`IfNoneMatch="*"`, a 412 taken as "expected during retry".

Kept here as the "before" of docs/python.md (and the baseline of the Python benchmark).
What it gets wrong, and wormlog fixes:
- a stale leader and a new one both append: the 412 only stops two writers racing for the
  *same* key, and each picks its next key from its own counter, so both histories land;
- a 412 after a lost response is taken as success without checking whose object it is;
- one PUT per event, and a LIST to find the tail after every restart.
"""

import json
import sys

import boto3
from botocore.exceptions import ClientError


class Boto3EventStore:
    def __init__(self, s3, bucket, stream):
        self.s3, self.bucket, self.prefix = s3, bucket, f"{stream}/events/"
        self.next = self._tail()

    def _tail(self):
        n = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            n += len(page.get("Contents", []))
        return n

    def append(self, event):
        key = f"{self.prefix}{self.next:020}.json"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(event).encode(), IfNoneMatch="*")
        except ClientError as e:
            if e.response["Error"]["Code"] != "PreconditionFailed":
                raise
            # "expected during retry": assumed to be our own earlier attempt.
        self.next += 1
        return self.next - 1

    def events(self):
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for o in page.get("Contents", []):
                yield json.loads(self.s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read())


if __name__ == "__main__":
    endpoint, bucket = sys.argv[1], sys.argv[2]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    store = Boto3EventStore(s3, bucket, "orders")
    print(store.append({"order": "o-1", "state": "created"}))
    print(list(store.events()))
