"""A fault-injecting HTTP proxy in front of a real server (moto): 500s for chosen DynamoDB operations.

Bounded and loopback-only: it listens on 127.0.0.1 and forwards to one upstream on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


class FaultProxy:
    def __init__(self, upstream: str, *, operation: str, failure_rate: float, seed: int = 1) -> None:
        self.upstream = urlparse(upstream)
        self.operation = operation
        self.failure_rate = failure_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected = 0
        self.forwarded = 0
        self.operations: set[str] = set()  # every DynamoDB call seen, as an IAM action ("dynamodb:PutItem")

    def should_fail(self, target: str) -> bool:
        if target.startswith("DynamoDB_"):
            with self.lock:
                self.operations.add("dynamodb:" + target.split(".", 1)[1])
        if self.operation not in target:
            return False
        with self.lock:
            fail = self.rng.random() < self.failure_rate
            self.injected += fail
            return fail

    @contextmanager
    def serve(self) -> Iterator[str]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if proxy.should_fail(self.headers.get("X-Amz-Target", "")):
                    payload = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}'
                    self.send_response(500)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                with proxy.lock:
                    proxy.forwarded += 1
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


class AwsProxy:
    """Loopback proxy in front of the moto server for every method: records each AWS operation it forwards
    (``service:Action``) and can drive EMR step states, which moto leaves RUNNING forever: a step's
    DescribeStep answer becomes ``final`` (COMPLETED, or FAILED for names in ``fail``) after ``polls`` polls.
    """

    def __init__(self, upstream: str, *, polls: int = 2, fail: tuple[str, ...] = ()) -> None:
        self.upstream = urlparse(upstream)
        self.polls = polls
        self.fail = fail
        self.lock = threading.Lock()
        self.operations: set[str] = set()
        self.seen_polls: dict[str, int] = {}
        self.step_names: dict[str, str] = {}

    def operation(self, method: str, path: str, headers: dict[str, str]) -> str:
        target = headers.get("X-Amz-Target") or headers.get("x-amz-target") or ""
        if target.startswith("ElasticMapReduce."):
            return "elasticmapreduce:" + target.split(".", 1)[1]
        if target.startswith("DynamoDB_"):
            return "dynamodb:" + target.split(".", 1)[1]
        if target:
            return target
        # S3 REST (path style): what the submitter does is upload objects
        parts = [p for p in path.split("?")[0].split("/") if p]
        kind = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
        if len(parts) >= 2:
            return "s3:" + kind.get(method, method)
        return f"s3:{method}Bucket"

    def rewrite(self, operation: str, data: bytes) -> bytes:
        import json

        if operation not in ("elasticmapreduce:DescribeStep",):
            return data
        doc = json.loads(data)
        step = doc.get("Step") or {}
        with self.lock:
            n = self.seen_polls[step["Id"]] = self.seen_polls.get(step["Id"], 0) + 1
        failing = any(name in step.get("Name", "") for name in self.fail)
        if n > self.polls:
            step["Status"]["State"] = "FAILED" if failing else "COMPLETED"
            if failing:
                step["Status"]["FailureDetails"] = {"Reason": "injected by the test proxy"}
        return json.dumps(doc).encode()

    @contextmanager
    def serve(self) -> Iterator[str]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                operation = proxy.operation(self.command, self.path, dict(self.headers.items()))
                with proxy.lock:
                    proxy.operations.add(operation)
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = proxy.rewrite(operation, resp.read())
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
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
