"""A fast local webhook receiver for bench.alerts: an asyncio HTTP/1.1 server (keep-alive) in
its own process, so that it takes neither the GIL nor the CPU of the senders it measures.

It checks `X-Ruong-Signature` (HMAC-SHA256 over `"<t>." + body`, backend/alerts/channels/
webhook.py), answers 204 (401 when the signature does not match), and records the arrival time
(Unix seconds, `time.time()`) of each request's `Idempotency-Key`. The parent asks for the
count or takes (and clears) the arrivals over a pipe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import time
from multiprocessing.connection import Connection

OK = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
REFUSED = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"


def _serve(conn: Connection, secret: bytes) -> None:
    arrivals: list[tuple[str, float]] = []
    rejected = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, key, sig = 0, "", ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"idempotency-key":
                        key = value.strip().decode()
                    elif name == b"x-ruong-signature":
                        sig = value.strip().decode()
                body = await reader.readexactly(length) if length else b""
                arrived = time.time()
                parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
                mac = hmac.new(secret, parts.get("t", "").encode() + b"." + body, hashlib.sha256)
                if hmac.compare_digest(mac.hexdigest(), parts.get("v1", "")):
                    arrivals.append((key, arrived))
                    writer.write(OK)
                else:
                    rejected[0] += 1
                    writer.write(REFUSED)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def command() -> None:
            what = conn.recv()
            if what == "count":
                conn.send((len(arrivals), rejected[0]))
            elif what == "take":
                conn.send(list(arrivals))
                arrivals.clear()
            else:
                done.set_result(None)

        loop.add_reader(conn.fileno(), command)
        await done
        server.close()

    asyncio.run(main())


class Receiver:
    """The receiver process: `url` once started; `count()`, `take()`, `stop()`."""

    def __init__(self, secret: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_serve, args=(child, secret.encode()), daemon=True)
        self.url = ""

    def start(self) -> Receiver:
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("the bench receiver did not start in 30 s")
        self.url = f"http://127.0.0.1:{self._conn.recv()}/hook"
        return self

    def count(self) -> tuple[int, int]:
        """(accepted, rejected) so far."""
        self._conn.send("count")
        return self._conn.recv()

    def take(self) -> list[tuple[str, float]]:
        """(idempotency key, arrival Unix s) of every accepted request since the last take."""
        self._conn.send("take")
        return self._conn.recv()

    def stop(self) -> None:
        if self._proc.is_alive():
            self._conn.send("stop")
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
