"""Loopback proxies in front of the real moto server: they record every AWS operation they forward and can
inject faults (HTTP 500s for chosen DynamoDB operations) or drive EMR step states (moto never ends a step).

Bounded and loopback-only: they listen on 127.0.0.1 and forward to one upstream on 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

Reply = tuple[int, list[tuple[str, str]], bytes]
Forward = Callable[[bytes | None], Reply]
S3_ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}


# X-Amz-Target prefixes of the JSON protocols -> the IAM service prefix of their actions
TARGET_SERVICES = {"ElasticMapReduce": "elasticmapreduce", "DynamoDB_20120810": "dynamodb", "TrentService": "kms",
                   "secretsmanager": "secretsmanager", "Logs_20140328": "logs", "GraniteServiceVersion20100801":
                   "cloudwatch", "AmazonSSM": "ssm"}  # fmt: skip


_SERVERLESS = {("POST", 3, "jobruns"): "StartJobRun", ("GET", 4, "jobruns"): "GetJobRun",
               ("DELETE", 4, "jobruns"): "CancelJobRun", ("GET", 3, "jobruns"): "ListJobRuns",
               ("GET", 2, ""): "GetApplication", ("POST", 1, ""): "CreateApplication"}  # fmt: skip


class RecordingProxy:
    """Forwards every request; ``operations`` holds each one as an IAM action (``dynamodb:PutItem``), and
    ``requests`` each JSON-protocol request's action and body (which secret, which key)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlparse(upstream)
        self.lock = threading.Lock()
        self.operations: set[str] = set()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.record_bodies = False  # set: keep ``requests``
        self.forwarded = 0

    @staticmethod
    def operation(method: str, path: str, target: str, body: bytes | None = None) -> str:
        if target:  # JSON protocols
            prefix, _, action = target.partition(".")
            return f"{TARGET_SERVICES[prefix]}:{action}" if prefix in TARGET_SERVICES else target
        if path.startswith("/service/") and "/operation/" in path:  # Smithy RPC v2 (CloudWatch)
            service, _, action = path[len("/service/") :].partition("/operation/")
            return f"{TARGET_SERVICES.get(service, service)}:{action.split('?')[0]}"
        if method == "POST" and path.split("?")[0] == "/" and body and body.startswith(b"Action="):  # query (STS)
            action = body.split(b"&")[0][len(b"Action=") :].decode()
            return f"sts:{action}" if action in ("GetCallerIdentity", "AssumeRole") else f"query:{action}"
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] == ["applications"]:  # EMR Serverless (REST JSON; no test bucket is named so)
            return "emr-serverless:" + _SERVERLESS.get((method, len(parts), parts[2] if len(parts) > 2 else ""),
                                                       f"{method}{len(parts)}")  # fmt: skip
        # S3 REST, path style
        if len(parts) >= 2:
            query = path.partition("?")[2]
            if method == "POST" and ("uploads" in query.split("&") or "uploadId=" in query):
                return "s3:PutObject"  # a multipart upload's create and complete: IAM's s3:PutObject
            return "s3:" + S3_ACTIONS.get(method, method)
        return "s3:ListBucket" if method == "GET" else f"s3:{method}Bucket"  # GET on a bucket lists it

    def intercept(self, operation: str) -> tuple[int, bytes] | None:
        """A response to give instead of forwarding (none: forward)."""
        return None

    def rewrite(self, operation: str, data: bytes) -> bytes:
        return data

    def exchange(self, operation: str, body: bytes | None, forward: Forward) -> Reply | None:
        """The reply to one request (None: drop the connection). Default: ``intercept``, else forward."""
        injected = self.intercept(operation)
        if injected is not None:
            return injected[0], [("Content-Type", "application/x-amz-json-1.0")], injected[1]
        return forward(body)

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
                    if k.lower() == "x-amz-crc32":  # DynamoDB's body checksum: right for the body we send
                        v = str(zlib.crc32(data))
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else None
                target = self.headers.get("X-Amz-Target", "")
                operation = proxy.operation(self.command, self.path, target, body)
                with proxy.lock:
                    proxy.operations.add(operation)
                    if proxy.record_bodies and target and body:
                        proxy.requests.append((operation, json.loads(body)))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}

                def forward(payload: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
                    if payload is not None:
                        headers["Content-Length"] = str(len(payload))
                    conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                    try:
                        conn.request(self.command, self.path, body=payload, headers=headers)
                        resp = conn.getresponse()
                        data = proxy.rewrite(operation, resp.read())
                    finally:
                        conn.close()
                    with proxy.lock:
                        proxy.forwarded += 1
                    return resp.status, resp.getheaders(), data

                reply = proxy.exchange(operation, body, forward)
                if reply is None:  # drop the connection without an answer
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._reply(*reply)

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
    """HTTP 500 (InternalServerError) for a share of one DynamoDB operation (``operation=None``: of every call)."""

    def __init__(self, upstream: str, *, operation: str | None, failure_rate: float, seed: int = 1) -> None:
        super().__init__(upstream)
        self.target_operation = None if operation is None else "dynamodb:" + operation
        self.failure_rate = failure_rate
        self.rng = random.Random(seed)
        self.injected = 0
        self.injected_by: Counter[str] = Counter()  # operation -> failures injected
        self.times: list[float] = []  # when each call of the operation arrived (time.time())

    def intercept(self, operation: str) -> tuple[int, bytes] | None:
        if self.target_operation is not None and operation != self.target_operation:
            return None
        with self.lock:
            self.times.append(time.time())
            fail = self.rng.random() < self.failure_rate
            self.injected += fail
            self.injected_by[operation] += fail
        if not fail:
            return None
        return 500, b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}'


class AwsProxy(RecordingProxy):
    """Drives EMR steps and EMR Serverless job runs: a step's DescribeStep (a job run's GetJobRun) answer is
    RUNNING for ``polls`` polls, then COMPLETED (SUCCESS), or FAILED for names in ``fail``."""

    def __init__(self, upstream: str, *, polls: int = 2, fail: tuple[str, ...] = (),
                 on_poll: Callable[[str, int], None] | None = None) -> None:  # fmt: skip
        super().__init__(upstream)
        self.polls = polls
        self.fail = fail
        self.on_poll = on_poll  # (step name, poll number): what the step's run does meanwhile, before the answer
        self.seen_polls: dict[str, int] = {}

    def rewrite(self, operation: str, data: bytes) -> bytes:
        if operation == "elasticmapreduce:DescribeStep":
            doc = json.loads(data)
            step = doc["Step"]
            state = self._advance(step["Id"], step.get("Name", ""))
            # moto's steps never start: they run until their polls are done
            step["Status"]["State"] = {"DONE": "COMPLETED"}.get(state, state)
            if state == "FAILED":
                step["Status"]["FailureDetails"] = {"Reason": "injected by the test proxy"}
            return json.dumps(doc).encode()
        if operation == "emr-serverless:GetJobRun":  # moto's job runs are SUCCESS at once
            doc = json.loads(data)
            run = doc["jobRun"]
            state = self._advance(run["jobRunId"], run.get("name", ""))
            run["state"] = {"DONE": "SUCCESS"}.get(state, state)
            if state == "FAILED":
                run["stateDetails"] = "injected by the test proxy"
            return json.dumps(doc).encode()
        return data

    def _advance(self, run_id: str, name: str) -> str:
        """One more poll of a step or job run: RUNNING for ``polls`` polls, then FAILED (a name in ``fail``) or
        DONE; ``on_poll`` runs first, as the run would meanwhile."""
        with self.lock:
            n = self.seen_polls[run_id] = self.seen_polls.get(run_id, 0) + 1
        if self.on_poll is not None:
            self.on_poll(name, n)
        if n <= self.polls:
            return "RUNNING"
        return "FAILED" if any(f in name for f in self.fail) else "DONE"


def _throttle_error(code: str) -> Reply:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}).encode()
    return 400, [("Content-Type", "application/x-amz-json-1.0")], body


def attribute_bytes(name: str, value: dict[str, object]) -> int:
    """DynamoDB's size of one attribute in the wire JSON (the published rules, written apart from the loader's)."""
    return len(name.encode()) + _value_bytes(value)


def _value_bytes(value: dict[str, object]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "B":  # base64 on the wire, bytes once boto3 has read it
        return len(v) if isinstance(v, bytes) else len(base64.b64decode(str(v)))
    if kind == "N":  # one byte per two significant digits, plus one
        digits = str(v).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        assert isinstance(v, dict)
        return 3 + sum(attribute_bytes(k, x) + 1 for k, x in v.items())
    if kind == "L":
        assert isinstance(v, list)
        return 3 + sum(_value_bytes(x) + 1 for x in v)
    raise ValueError(kind)


def put_units(item: dict[str, dict[str, object]]) -> float:
    """Write units a put of ``item`` costs: per started KB on the table, and per started KB of the index entry
    (keys and projected attributes, as the table definition projects them) on each GSI it lands in."""
    return float(sum(put_units_by_index(item).values()))


def put_units_by_index(item: dict[str, dict[str, object]]) -> dict[str, int]:
    """:func:`put_units` on the ``table`` and on each GSI (0 where the item is not in the index)."""
    from loaders.dynamodb.settings import GSI_PROJECTIONS

    def kb(attrs: dict[str, dict[str, object]]) -> int:
        return -(-sum(attribute_bytes(k, v) for k, v in attrs.items()) // 1024)

    units = {"table": kb(item)}
    for index, projected in GSI_PROJECTIONS.items():
        keys = ("pk", "sk", f"{index}pk", f"{index}sk", *projected)
        units[index] = kb({k: item[k] for k in keys if k in item}) if f"{index}pk" in item else 0
    return units


class ThrottlingProxy(RecordingProxy):
    """DynamoDB as a table with ``capacity`` write units per second (token bucket, ``burst_s`` of credit).

    A BatchWriteItem gets the puts that fit accepted (forwarded to moto) and the rest back as
    ``UnprocessedItems``; when none fits, or a PutItem does not, ``ProvisionedThroughputExceededException``.
    Also ``error_rate`` HTTP 500s and ``drop_rate`` dropped connections (after the write reached the server).
    Its own accounting: write units offered and accepted per wall-clock second.
    """

    def __init__(
        self,
        upstream: str,
        *,
        capacity: float,
        burst_s: float = 1.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 7,
    ) -> None:
        super().__init__(upstream)
        self.capacity = capacity
        self.burst = capacity * burst_s
        self.tokens = self.burst
        self.refilled = time.monotonic()
        self.error_rate, self.drop_rate = error_rate, drop_rate
        self.rng = random.Random(seed)
        self.offered: dict[int, float] = defaultdict(float)
        self.accepted: dict[int, float] = defaultdict(float)
        self.throttled = self.unprocessed = self.errors = self.drops = 0
        self.accepted_log: list[tuple[float, float]] = []  # (monotonic time, units) per accepted request

    def _take(self, units: float) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.capacity)
        self.refilled = now
        if self.tokens >= units:
            self.tokens -= units
            return True
        return False

    def exchange(self, operation: str, body: bytes | None, forward: Forward) -> Reply | None:
        if operation not in ("dynamodb:BatchWriteItem", "dynamodb:PutItem") or body is None:
            return forward(body)
        request = json.loads(body)
        if operation == "dynamodb:PutItem":
            puts = [(request["TableName"], {"PutRequest": {"Item": request["Item"]}})]
        else:
            puts = [(t, r) for t, rs in request["RequestItems"].items() for r in rs]
        costs = [put_units(r["PutRequest"]["Item"]) for _, r in puts]
        second = int(time.time())
        with self.lock:
            self.offered[second] += sum(costs)
            roll = self.rng.random()
            if roll < self.error_rate:
                self.errors += 1
                return 500, [], b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"x"}'
            fits = [self._take(c) for c in costs]  # in order, as the service would: later ones may not fit
            if not any(fits):
                self.throttled += 1
                return _throttle_error("ProvisionedThroughputExceededException")
            dropping = roll < self.error_rate + self.drop_rate
        if operation == "dynamodb:PutItem":
            reply = forward(body)
        else:
            kept: dict[str, list[object]] = defaultdict(list)
            rejected: dict[str, list[object]] = defaultdict(list)
            for (table, put), ok in zip(puts, fits, strict=True):
                (kept if ok else rejected)[table].append(put)
            reply = forward(json.dumps({**request, "RequestItems": kept}).encode())
            if reply[0] == 200 and rejected:
                answer = json.loads(reply[2])
                answer["UnprocessedItems"] = rejected
                reply = (reply[0], reply[1], json.dumps(answer).encode())
        with self.lock:
            if reply[0] == 200 or b"ConditionalCheckFailed" in reply[2]:
                units = sum(c for c, ok in zip(costs, fits, strict=True) if ok)
                self.accepted[second] += units
                self.accepted_log.append((time.monotonic(), units))
            self.unprocessed += sum(1 for ok in fits if not ok)
            if dropping:
                self.drops += 1
                return None
        return reply

    @staticmethod
    def max_window(per_second: dict[int, float], seconds: int) -> float:
        """The most units in any ``seconds`` consecutive wall-clock seconds."""
        if not per_second:
            return 0.0
        first, last = min(per_second), max(per_second)
        return max(sum(per_second.get(t, 0.0) for t in range(s, s + seconds)) for s in range(first, last + 1))
