"""The run folder ``output.root/runs/<run_id>/``: paths for Spark, small text files for the driver."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunFolder:
    root: str
    run_id: str

    @property
    def path(self) -> str:
        return join(self.root, "runs", self.run_id)

    def sub(self, *parts: str) -> str:
        return join(self.path, *parts)

    def write_json(self, name: str, payload: Any) -> str:
        target = self.sub(name)
        write_text(target, json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
        return target


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


# Spark's names for S3 (EMRFS's s3://, Hadoop's s3a://, the old s3n://): the driver's small files go through
# boto3 for each alike, Spark's own files through the scheme as given.
S3_SCHEMES: tuple[str, ...] = ("s3://", "s3a://", "s3n://")


def check_root(uri: str) -> str:
    """A run folder root this module can write: a local path, file://, or S3 under any of Spark's names."""
    if "://" in uri and not uri.startswith((*S3_SCHEMES, "file://")):
        raise ValueError(f"must be a local path, file:// or s3:// (s3a://, s3n://), got {uri.split('://')[0]}://")
    return uri


def s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an S3 URI under any of its schemes."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _s3_folder(uri: str) -> tuple[str, str]:
    """(bucket, prefix ending in ``/``) of an S3 folder URI."""
    bucket, key = s3_location(uri)
    return bucket, key.rstrip("/") + "/"


def local_path(uri: str) -> str | None:
    """The filesystem path of a local URI (plain or file://); None for S3 (s3://, s3a://, s3n://)."""
    if uri.startswith(S3_SCHEMES):
        return None
    return uri[len("file://") :] if uri.startswith("file://") else uri


def put_file(source: Path, uri: str) -> None:
    """Copy one local file to a local path or an s3:// URI."""
    target = local_path(uri)
    if target is None:
        s3_client().upload_file(str(source), *s3_location(uri))
        return
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    shutil.copyfile(source, target)


def put_tree(source: Path, uri: str) -> None:
    """Copy every file under a local folder to the same relative places under ``uri``."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            put_file(path, join(uri, path.relative_to(source).as_posix()))


def write_text(uri: str, text: str) -> None:
    """Write a small text file to a local path or an s3:// URI."""
    path = local_path(uri)
    if path is None:
        bucket, key = s3_location(uri)
        s3_client().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_text(uri: str) -> str | None:
    """A small text file from a local path or an s3:// URI; None when it does not exist."""
    path = local_path(uri)
    if path is None:
        bucket, key = s3_location(uri)
        client = s3_client()
        try:
            return str(client.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
        except client.exceptions.NoSuchKey:
            return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def list_names(uri: str) -> list[str]:
    """The file names directly under a local folder or an s3:// prefix (none when it does not exist)."""
    path = local_path(uri)
    if path is None:
        bucket, prefix = _s3_folder(uri)
        pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(
            o["Key"][len(prefix) :]
            for page in pages
            for o in page.get("Contents", [])
            if "/" not in o["Key"][len(prefix) :]
        )
    try:
        return sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    except FileNotFoundError:
        return []


def list_folders(uri: str) -> list[str]:
    """The folder names directly under a local folder or an s3:// prefix (none when it does not exist)."""
    path = local_path(uri)
    if path is None:
        bucket, prefix = _s3_folder(uri)
        listing = s3_client().get_paginator("list_objects_v2")
        pages = listing.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return sorted(c["Prefix"][len(prefix) :].rstrip("/") for page in pages for c in page.get("CommonPrefixes", []))
    try:
        return sorted(n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n)))
    except FileNotFoundError:
        return []


def remove_tree(uri: str) -> None:
    """Delete a local folder or every object under an s3:// prefix (nothing when absent)."""
    path = local_path(uri)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        return
    bucket, prefix = _s3_folder(uri)
    client = s3_client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


_S3_LOCK = threading.Lock()
_S3_CLIENTS: dict[tuple[Any, ...], Any] = {}


def s3_client() -> Any:
    """The process's S3 client, made once under a lock (boto3's default session is not safe to create clients
    from in several threads at once: the two loads and the progress monitor); a client is safe to share once
    made. One per process and AWS environment (an endpoint or credentials set later get a client of their own)."""
    import boto3

    key = (os.getpid(), *(os.environ.get(name) for name in _S3_ENVIRONMENT))
    with _S3_LOCK:
        client = _S3_CLIENTS.get(key)
        if client is None:
            client = _S3_CLIENTS[key] = boto3.session.Session().client("s3")
        return client


_S3_ENVIRONMENT = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE")  # fmt: skip
