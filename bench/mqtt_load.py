"""The benchmark's MQTT load: pre-encoded MQTT 3.1.1 QoS 1 PUBLISH packets written to plain
sockets, at most `window` unacknowledged per publisher, PUBACKs counted.

On the 2-core bench machine the load generator shares the cores with the system it measures.
paho, even driven from one thread, spent ~100 us of CPU per message here (its message objects,
callbacks and per-PUBACK bookkeeping), close to the gateway's own cost; real nodes are other
devices. So the bench sends what the nodes send (firmware/mqtt.py's MQTT 3.1.1 packets, built
by its own encoders: QoS 1, clean session) with nearly no work per message: every packet is encoded before the clock
starts, and a publisher's packets of one round go out in one `sendall`. This is a load
generator only; the product's MQTT clients stay paho (gateway) and firmware/mqtt.py (node).
"""

from __future__ import annotations

import selectors
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable

from backend.firmware_src import FIRMWARE_DIR

if str(FIRMWARE_DIR) not in sys.path:
    sys.path.append(str(FIRMWARE_DIR))  # appended: never shadows an installed package
import mqtt as node_mqtt  # the node's own MQTT 3.1.1 framing (firmware/mqtt.py)

PUBACK = node_mqtt.PUBACK
CONNACK = node_mqtt.CONNACK
KEEPALIVE_S = 60


class Publisher:
    """One connection; `unacked` holds the packet ids sent and not yet PUBACKed, in order."""

    def __init__(self, port: int, client_id: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(node_mqtt.connect_packet(client_id, KEEPALIVE_S))
        connack = self.sock.recv(4)
        if len(connack) != 4 or connack[0] != CONNACK or connack[3] != 0:
            raise ConnectionError(f"{client_id}: broker refused the connection: {connack!r}")
        self.unacked: deque[int] = deque()
        self.outgoing: list[bytes] = []
        self.received = b""

    def flush(self) -> None:
        """Send this round's packets in one write."""
        if self.outgoing:
            self.sock.sendall(b"".join(self.outgoing))
            self.outgoing.clear()

    def read_acks(self) -> int:
        """Take the PUBACKs that arrived (each must name the oldest unacknowledged packet:
        a broker acknowledges one client's QoS 1 publishes in order); return how many."""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("broker closed the connection")
        buf = self.received + data
        pos = acks = 0
        while len(buf) - pos >= 2:
            size = buf[pos + 1]  # PUBACK and PINGRESP bodies are < 128 bytes: one length byte
            if len(buf) - pos < 2 + size:
                break
            if buf[pos] == PUBACK:
                (packet_id,) = struct.unpack_from(">H", buf, pos + 2)
                expected = self.unacked.popleft()
                if packet_id != expected:
                    raise ConnectionError(f"PUBACK for {packet_id}, expected {expected}")
                acks += 1
            pos += 2 + size
        self.received = buf[pos:]
        return acks

    def close(self) -> None:
        self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()


def publish_all(
    port: int,
    messages: list[tuple[str, bytes]],
    publishers: int,
    rate: float | None,
    window: int,
    keep_going: Callable[[], bool],
) -> tuple[float, list[float]]:
    """Publish `messages` round-robin from `publishers` connections, each with at most
    `window` unacknowledged (paced at `rate`/s if given), while `keep_going()`.

    Returns (start time, the time.perf_counter() at which each message was written).
    Raises ConnectionError when the broker refuses, drops or misacknowledges.
    """
    clients = [Publisher(port, f"bench-{i}") for i in range(publishers)]
    packets = [
        node_mqtt.publish_packet(topic, payload, (k // publishers) % 0xFFFF + 1)
        for k, (topic, payload) in enumerate(messages)
    ]
    selector = selectors.DefaultSelector()
    for client in clients:
        selector.register(client.sock, selectors.EVENT_READ, client)
    sent_at: list[float] = []
    acked = k = 0
    started = time.perf_counter()
    try:
        while keep_going() and acked < len(packets):
            timeout_s = 1.0
            now = time.perf_counter()
            while k < len(packets):
                client = clients[k % publishers]
                if len(client.unacked) >= window:
                    break
                if rate is not None and started + k / rate > now:
                    timeout_s = started + k / rate - now
                    break
                client.outgoing.append(packets[k])
                client.unacked.append((k // publishers) % 0xFFFF + 1)
                sent_at.append(now)
                k += 1
            for client in clients:
                client.flush()
            for key, _ in selector.select(max(timeout_s, 0.0)):
                acked += key.data.read_acks()
    finally:
        selector.close()
        for client in clients:
            client.close()
    return started, sent_at
