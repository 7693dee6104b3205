"""Fixtures: every test runs on the directory store and on a local moto server
(scripts/moto.sh). A moto server that does not answer fails the test, never skips it."""

import os
import socket
import uuid
from urllib.parse import urlparse

import pytest

import wormlog

MOTO = os.environ.get("WORMLOG_MOTO_ENDPOINT", "http://127.0.0.1:5055")


def moto_env():
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


def require_moto():
    u = urlparse(MOTO)
    try:
        socket.create_connection((u.hostname, u.port), timeout=2).close()
    except OSError:
        pytest.fail(f"moto is not answering at {MOTO}; start it with `scripts/moto.sh start` (scripts/test.sh does)")


@pytest.fixture(scope="session")
def moto_bucket():
    require_moto()
    moto_env()
    import boto3

    name = "wl-py-" + uuid.uuid4().hex[:10]
    boto3.client("s3", endpoint_url=MOTO, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def moto_url(bucket, prefix):
    return f"s3://{bucket}/{prefix}?endpoint={MOTO}&region=us-east-1&path_style=true"


@pytest.fixture(params=["dir", "moto"])
def store_url(request, tmp_path):
    """A store URL with nothing in it yet."""
    if request.param == "dir":
        return str(tmp_path / "store")
    bucket = request.getfixturevalue("moto_bucket")
    return moto_url(bucket, "t-" + uuid.uuid4().hex[:8])


@pytest.fixture
def store(store_url):
    return wormlog.open_store(store_url)


@pytest.fixture
def stream():
    return "s-" + uuid.uuid4().hex[:8]


def list_objects(store_url):
    """Every object key under the store (a directory's files, or the bucket prefix's keys)."""
    if store_url.startswith("s3://"):
        import boto3

        u = urlparse(store_url)
        s3 = boto3.client("s3", endpoint_url=MOTO, region_name="us-east-1")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=u.netloc, Prefix=u.path.lstrip("/")):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)
    out = []
    for root, _, files in os.walk(store_url):
        out += [os.path.relpath(os.path.join(root, f), store_url) for f in files]
    return sorted(k for k in out if not k.startswith("."))


@pytest.fixture
def objects(store_url):
    return lambda: list_objects(store_url)
