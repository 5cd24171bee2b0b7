"""Loopback proxies in front of the real moto server: they record every AWS operation they forward and can
inject faults (HTTP 500s for chosen DynamoDB operations) or drive EMR step states (moto never ends a step).

Bounded and loopback-only: they listen on 127.0.0.1 and forward to one upstream on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

S3_ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}


class RecordingProxy:
    """Forwards every request; ``operations`` holds each one as an IAM action (``dynamodb:PutItem``)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlparse(upstream)
        self.lock = threading.Lock()
        self.operations: set[str] = set()
        self.forwarded = 0

    @staticmethod
    def operation(method: str, path: str, target: str) -> str:
        if target.startswith("ElasticMapReduce."):
            return "elasticmapreduce:" + target.split(".", 1)[1]
        if target.startswith("DynamoDB_"):
            return "dynamodb:" + target.split(".", 1)[1]
        if target:
            return target
        parts = [p for p in path.split("?")[0].split("/") if p]  # S3 REST, path style
        return "s3:" + S3_ACTIONS.get(method, method) if len(parts) >= 2 else f"s3:{method}Bucket"

    def intercept(self, operation: str) -> tuple[int, bytes] | None:
        """A response to give instead of forwarding (none: forward)."""
        return None

    def rewrite(self, operation: str, data: bytes) -> bytes:
        return data

    @contextmanager
    def serve(self) -> Iterator[str]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else None
                operation = proxy.operation(self.command, self.path, self.headers.get("X-Amz-Target", ""))
                with proxy.lock:
                    proxy.operations.add(operation)
                injected = proxy.intercept(operation)
                if injected is not None:
                    self._reply(injected[0], [("Content-Type", "application/x-amz-json-1.0")], injected[1])
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = proxy.rewrite(operation, resp.read())
                with proxy.lock:
                    proxy.forwarded += 1
                self._reply(resp.status, resp.getheaders(), data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


class FaultProxy(RecordingProxy):
    """HTTP 500 (InternalServerError) for a share of one DynamoDB operation."""

    def __init__(self, upstream: str, *, operation: str, failure_rate: float, seed: int = 1) -> None:
        super().__init__(upstream)
        self.target_operation = "dynamodb:" + operation
        self.failure_rate = failure_rate
        self.rng = random.Random(seed)
        self.injected = 0

    def intercept(self, operation: str) -> tuple[int, bytes] | None:
        if operation != self.target_operation:
            return None
        with self.lock:
            fail = self.rng.random() < self.failure_rate
            self.injected += fail
        if not fail:
            return None
        return 500, b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}'


class AwsProxy(RecordingProxy):
    """Drives EMR steps: a step's DescribeStep answer becomes COMPLETED (FAILED for names in ``fail``) after
    ``polls`` polls."""

    def __init__(self, upstream: str, *, polls: int = 2, fail: tuple[str, ...] = ()) -> None:
        super().__init__(upstream)
        self.polls = polls
        self.fail = fail
        self.seen_polls: dict[str, int] = {}

    def rewrite(self, operation: str, data: bytes) -> bytes:
        if operation != "elasticmapreduce:DescribeStep":
            return data
        doc = json.loads(data)
        step = doc["Step"]
        with self.lock:
            n = self.seen_polls[step["Id"]] = self.seen_polls.get(step["Id"], 0) + 1
        if n > self.polls:
            failing = any(name in step.get("Name", "") for name in self.fail)
            step["Status"]["State"] = "FAILED" if failing else "COMPLETED"
            if failing:
                step["Status"]["FailureDetails"] = {"Reason": "injected by the test proxy"}
        return json.dumps(doc).encode()
