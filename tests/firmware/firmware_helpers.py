"""Helpers shared by the firmware tests: run code on the real MicroPython, a raw UDP CoAP
peer, node identities the gateway decoder accepts. Fixtures wrapping them: conftest.py."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiocoap

from backend.firmware_src import FIRMWARE_DIR
from backend.registry import NodeInfo

HEAP = "72k"  # the firmware with FieldHAL's simulated field (firmware/README.md "RAM")
NODE_ID = "n0a1b2c3d"
KEY = bytes(range(32))


def node_info(node: str = NODE_ID, key: bytes = KEY) -> NodeInfo:
    return NodeInfo(
        node=node, farm="demo", field="ruong-1", transport="coap", key=key, revoked=False
    )


def lookup_for(info: NodeInfo) -> Callable[[str], NodeInfo | None]:
    return lambda node_id: info if node_id == info.node else None


@dataclass
class MicroPython:
    binary: str

    def run(
        self, script: str, heap: str = HEAP, timeout: float = 60, args: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        """Run `script` on MicroPython with firmware/ importable; fail on a non-zero exit."""
        prologue = f"import sys\nsys.path.insert(0, {str(FIRMWARE_DIR)!r})\n"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "script.py"
            path.write_text(prologue + script, encoding="utf-8")
            proc = subprocess.run(
                [self.binary, "-X", f"heapsize={heap}", str(path), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=FIRMWARE_DIR,
                check=False,
            )
        # the unix port prints an uncaught exception's traceback on stdout
        assert proc.returncode == 0, (
            f"micropython exit {proc.returncode}:\n{proc.stderr}{proc.stdout[-2000:]}"
        )
        return proc

    def main(
        self, config: Path, timeout: float = 60, heap: str = HEAP
    ) -> subprocess.CompletedProcess[str]:
        """`micropython -X heapsize=HEAP firmware/main.py CONFIG` as `ruong sim` starts it."""
        return subprocess.run(
            [self.binary, "-X", f"heapsize={heap}", str(FIRMWARE_DIR / "main.py"), str(config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=FIRMWARE_DIR,
            check=False,
        )


def write_config(directory: Path, **overrides: object) -> Path:
    """A node config file (as ruong.sim writes it) with `overrides` applied."""
    config = {
        "node": NODE_ID,
        "key": KEY.hex(),
        "transport": "coap",
        "gateway": "coap://127.0.0.1:5683",
        "field": "ruong-1",
        "seed": 1,
        "interval_s": 0.1,
        "cycles": 2,
        "state_dir": str(directory / "state"),
    }
    config.update(overrides)
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def reports(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# --- a raw CoAP peer (RFC 7252 framing written out here, independent of the firmware) -----


@dataclass
class Datagram:
    mtype: int
    code: int
    mid: int
    token: bytes
    payload: bytes
    raw: bytes
    addr: tuple


def parse_coap(data: bytes, addr: tuple) -> Datagram:
    first, code, mid = struct.unpack(">BBH", data[:4])
    tkl = first & 0x0F
    token = data[4 : 4 + tkl]
    marker = data.find(b"\xff", 4 + tkl)
    payload = data[marker + 1 :] if marker >= 0 else b""
    return Datagram((first >> 4) & 3, code, mid, token, payload, data, addr)


def coap_bytes(mtype: int, code: int, mid: int, token: bytes = b"", payload: bytes = b"") -> bytes:
    out = struct.pack(">BBH", 0x40 | (mtype << 4) | len(token), code, mid) + token
    return out + (b"\xff" + payload if payload else b"")


@dataclass
class UdpPeer:
    """A UDP socket on a free port; `policy(peer, datagram)` answers each datagram."""

    policy: Callable[[UdpPeer, Datagram], None]
    sock: socket.socket = field(init=False)
    received: list[Datagram] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def reply(self, datagram: Datagram, data: bytes) -> None:
        self.sock.sendto(data, datagram.addr)

    def _serve(self) -> None:
        import time

        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            datagram = parse_coap(data, addr)
            self.received.append(datagram)
            self.times.append(time.monotonic())
            self.policy(self, datagram)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def uri_queries(raw: bytes) -> list[str]:
    """The Uri-Query options of a CoAP message, as aiocoap (an independent decoder) reads them."""
    return list(aiocoap.Message.decode(raw).opt.uri_query)


class FakeBroker:
    """A one-connection MQTT 3.1.1 broker on a thread, for the exchanges Mosquitto will not
    stage: it records every packet in `seen`, accepts CONNECT, stops at DISCONNECT, and hands
    every other packet to `respond(conn, first byte, body)`."""

    def __init__(self, respond: Callable[[socket.socket, int, bytes], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.seen: list[tuple[int, bytes]] = []
        self.thread = threading.Thread(target=self._serve, args=(respond,), daemon=True)
        self.thread.start()

    def _serve(self, respond: Callable[[socket.socket, int, bytes], None]) -> None:
        conn, _ = self.listener.accept()
        with conn:
            while True:
                first, body = mqtt_packet(conn)
                self.seen.append((first, body))
                if first == 0x10:
                    conn.sendall(b"\x20\x02\x00\x00")  # CONNACK accepted
                elif first == 0xE0:
                    return
                else:
                    respond(conn, first, body)

    def close(self) -> None:
        self.thread.join(5)
        self.listener.close()


def publish_topic_and_id(body: bytes) -> tuple[bytes, bytes]:
    """(topic, packet id) of a QoS 1 PUBLISH body."""
    topic_len = int.from_bytes(body[:2], "big")
    return body[2 : 2 + topic_len], body[2 + topic_len : 4 + topic_len]


def mqtt_packet(conn: socket.socket) -> tuple[int, bytes]:
    """One MQTT control packet from a socket: (first byte, body)."""
    first = conn.recv(1)[0]
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return first, body
