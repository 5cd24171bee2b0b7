"""A DynamoDB endpoint that answers ``BatchWriteItem`` and ``PutItem`` as fast as it can and never throttles.

For measuring what one writer task can push (``benchmarks/dynamodb.py --ceiling``): moto stores and checks
every item in Python and is the bottleneck long before the client is. This server reads each request, counts
its items and answers success (``{"UnprocessedItems": {}}`` / ``{}``): asyncio, HTTP/1.1 keep-alive, in its
own process so that it does not share the client's interpreter.

    python benchmarks/fake_dynamodb.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
from collections.abc import Iterator
from contextlib import contextmanager

_OK = {
    b"DynamoDB_20120810.BatchWriteItem": b'{"UnprocessedItems":{}}',
    b"DynamoDB_20120810.PutItem": b"{}",
}


async def _serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: list[int]) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, target = 0, b""
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"x-amz-target":
                    target = value.strip()
            body = await reader.readexactly(length) if length else b""
            counter[0] += body.count(b'"PutRequest"') if target.endswith(b"BatchWriteItem") else 1
            payload = _OK.get(target, b"{}")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: "
                + str(len(payload)).encode() + b"\r\n\r\n" + payload
            )  # fmt: skip
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _run(sock: socket.socket) -> None:
    async def main() -> None:
        counter = [0]
        server = await asyncio.start_server(lambda r, w: _serve_client(r, w, counter), sock=sock)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@contextmanager
def fake_dynamodb() -> Iterator[str]:
    """Start the endpoint in a child process on a free loopback port; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    process = mp.get_context("fork").Process(target=_run, args=(sock,), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        process.terminate()
        process.join(5)
        sock.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    listening = socket.socket()
    listening.bind(("127.0.0.1", parser.parse_args().port))
    listening.listen(512)
    _run(listening)
