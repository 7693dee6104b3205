"""The same event store on wormlog: a fencing token per writer, one history, batching.

    python examples/python/wormlog_event_store.py "s3://bucket/prefix?endpoint=http://127.0.0.1:5055&region=us-east-1&path_style=true"

The changes from boto3_event_store.py: the store is opened by URL, the writer carries an
epoch (here from the stream's lease), and a stale leader gets `wormlog.Fenced` instead of
writing a second history.
"""

import sys

import wormlog


class WormlogEventStore:
    def __init__(self, url, stream, holder):
        self.store = wormlog.open_store(url)
        self.stream = stream
        # Leads by the stream's lease: the epoch comes from it, renewed in the background.
        self.writer = wormlog.Writer(self.store, stream, lease=wormlog.LeaseOptions(holder=holder))

    def append(self, event):
        return self.writer.append(event, type="order").seq  # raises wormlog.Fenced if stale

    def events(self):
        return (e.data for e in wormlog.Reader(self.store, self.stream).events())

    def close(self):
        self.writer.close()


if __name__ == "__main__":
    store = WormlogEventStore(sys.argv[1] if len(sys.argv) > 1 else "./wormlog-data", "orders", "controller-1")
    try:
        print(store.append({"order": "o-1", "state": "created"}))
        print(list(store.events()))
    finally:
        store.close()
