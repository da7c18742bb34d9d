"""MQTT ingest: a persistent-session QoS 1 subscriber on asyncio, PUBACK after the spool commit.

With `[gateway] mqtt_share_group` set, the gateway subscribes QoS 1 to
`$share/<group>/ruong/+/up`, so several gateway processes in one group split the stream, each
message going to one of them; by default ("") it subscribes to plain `ruong/+/up`, since
Mosquitto 2.0 forgets shared subscriptions over a broker restart (docs/protocol.md). It connects
with Clean Start off and a Session Expiry that never ends, under a client id that names its
session (`[gateway] mqtt_client_id`, default `ruong-gw-<hostname>`; give each process its own).
The broker keeps the session, with unacknowledged and queued uplinks, while the gateway is away.
It logs in with the user and password of `[mqtt] url`, the broker's gateway account
(docs/mqtt-broker.md); `mqtts://` runs the session over TLS, the broker's certificate and host
name verified against `[mqtt] ca_file` or the system's CAs (`tls_context`).

PUBACK only after the spool has the uplink, in the order the messages arrived (MQTT 5 s4.6).
Messages go from the socket straight into an inbox, which is spooled in batches
(`Ingest.accept_batch`), so many messages share one spool transaction, and their PUBACKs go out
in one write. A rejected uplink is acknowledged and dropped (retrying it could never succeed)
with its reason counted. When the spool cannot take an uplink (over its bound, or failing) it
and everything after it stay unacknowledged and are retried; Receive Maximum (`in_flight`) then
stops the broker from sending more: MQTT's flow control.

Why not paho-mqtt (through aiomqtt), which the gateway used before: received through paho, a
QoS 1 message cost ~55 us of CPU before the gateway saw it, against ~5-14 us for this client,
and the gateway is single-threaded on the hot path (`python -m bench.mqtt_rx` measures both on
the same stream). paho is a general client (threads, callbacks, a message object with a
condition variable per message, topic matching); the subscriber needs six packet types, which
gateway/mqtt_wire.py encodes and parses. The config downlink publisher (gateway/downlink.py)
still uses aiomqtt: it sends a few messages a day.

A broker that does not answer an MQTT 5 CONNECT within 3 s, closes the connection on it, or
refuses its protocol version (the demo's embedded amqtt speaks 3.1.1 only), gets MQTT 3.1.1
with clean session 0 from then on, logged as a warning; the broker's own in-flight limit then
replaces Receive Maximum.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from typing import Any

from backend.config import Endpoint
from gateway import mqtt_wire as wire
from gateway.ingest import Ingest, NotDurable, Received

log = logging.getLogger("ruong.gateway.mqtt")

UPLINK_FILTER = "ruong/+/up"
SESSION_NEVER_EXPIRES = 0xFFFFFFFF  # MQTT 5 s3.1.2.11.2: the session holds acknowledged uplinks
IN_FLIGHT = 2000  # Receive Maximum: unacknowledged QoS 1 messages the broker may send us
BATCH = 1000  # messages per spool transaction at most
KEEPALIVE_S = 60
REPLY_TIMEOUT_S = 30.0  # CONNACK, SUBACK, UNSUBACK from a broker known to speak our version
V5_PROBE_TIMEOUT_S = 3.0  # a broker that only speaks 3.1.1 may ignore an MQTT 5 CONNECT
UNSUPPORTED_PROTOCOL = (1, 0x84)  # CONNACK: 3.1.1 "unacceptable protocol version", MQTT 5 0x84


class MqttError(ConnectionError):
    """The connection to the broker failed or was lost; the caller reconnects."""


class MqttRefused(MqttError):
    """The broker answered CONNECT, SUBSCRIBE or UNSUBSCRIBE with a failure code."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what} refused, code 0x{code:02x}")
        self.code = code


class MqttNoAnswer(MqttError):
    """The broker closed the connection, or stayed silent, before answering CONNECT."""


def uplink_filter(share_group: str) -> str:
    """`$share/<group>/ruong/+/up`, or the plain filter when `share_group` is ""."""
    return f"$share/{share_group}/{UPLINK_FILTER}" if share_group else UPLINK_FILTER


def tls_context(broker: Endpoint) -> ssl.SSLContext | None:
    """For `mqtts://`: a client context that verifies the broker's certificate chain against
    `[mqtt] ca_file` (else the system's trusted CAs) and its host name; None for `mqtt://`."""
    if broker.scheme != "mqtts":
        return None
    return ssl.create_default_context(cafile=broker.ca_file)


def default_client_id() -> str:
    """`ruong-gw-<hostname>`: stable across restarts, so the session is found again."""
    return f"ruong-gw-{socket.gethostname()}"


class _Inbox:
    """Messages received and not yet spooled, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[wire.Publish] = []
        self.arrived = asyncio.Event()


class _Connection(asyncio.Protocol):
    """One TCP connection to the broker: PUBLISH packets into the inbox, replies to waiters.

    `closed` resolves (with an MqttError) when the connection ends for any reason: the broker
    closed it, sent a DISCONNECT or bytes that are not MQTT.
    """

    def __init__(self, version: int, inbox: _Inbox) -> None:
        self.version = version
        self.inbox = inbox
        self.reader = wire.PacketReader()
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replies: dict[int, asyncio.Future[bytes]] = {}
        self.last_in = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_in = time.monotonic()
        try:
            packets = self.reader.feed(data)
            received = self.inbox.messages
            before = len(received)
            for first, body in packets:
                kind = first >> 4
                if kind == wire.PUBLISH:
                    message = wire.parse_publish(first, body, self.version)
                    if message.qos == 2:  # the subscription is QoS 1: the broker must downgrade
                        raise wire.MqttProtocolError("QoS 2 PUBLISH on a QoS 1 subscription")
                    received.append(message)
                elif kind in (wire.CONNACK, wire.SUBACK, wire.UNSUBACK):
                    waiter = self.replies.pop(kind, None)
                    if waiter is None or waiter.done():
                        raise wire.MqttProtocolError(f"unexpected packet type {kind}")
                    waiter.set_result(body)
                elif kind == wire.DISCONNECT:
                    code, reason = wire.parse_disconnect(body)
                    self._end(MqttError(f"broker sent DISCONNECT 0x{code:02x} {reason}".strip()))
                    return
                elif kind != wire.PINGRESP:
                    raise wire.MqttProtocolError(f"unexpected packet type {kind}")
            if len(received) > before:
                self.inbox.arrived.set()
        except wire.MqttProtocolError as exc:
            self._end(MqttError(f"not MQTT from the broker: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(MqttError(f"connection closed ({exc})" if exc else "connection closed"))

    def _end(self, error: MqttError) -> None:
        if not self.closed.done():
            self.closed.set_exception(error)
            self.closed.exception()  # retrieved here: whoever awaits it sees it too
        for waiter in self.replies.values():
            if not waiter.done():
                waiter.set_exception(error)
                # retrieved here: a request that timed out (it ended the connection) no longer
                # awaits its shielded waiter, and asyncio would log the error as never seen
                waiter.exception()
        self.replies.clear()
        if self.transport is not None:
            self.transport.close()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def request(self, packet: bytes, reply: int, timeout_s: float) -> bytes:
        """Send `packet`, return the body of the `reply` packet type that answers it."""
        if self.closed.done():
            raise self.closed.exception()  # type: ignore[misc]
        waiter = asyncio.get_running_loop().create_future()
        self.replies[reply] = waiter
        self.write(packet)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        except TimeoutError:
            error = MqttNoAnswer(f"no answer in {timeout_s:.0f} s")
            self._end(error)
            raise error from None

    def close(self) -> None:
        """DISCONNECT (the session stays on the broker) and close."""
        if not self.closed.done():
            self.write(wire.DISCONNECT_PACKET)
        self._end(MqttError("closed by the gateway"))


async def _connect(
    broker: Endpoint,
    client_id: str,
    version: int,
    in_flight: int,
    timeout_s: float,
    inbox: _Inbox,
    tls: ssl.SSLContext | None = None,
) -> tuple[_Connection, int]:
    """Open a session: TCP connect (and the TLS handshake with `tls`), CONNECT, CONNACK.
    Returns it and the keepalive in force.

    The inbox exists before CONNECT: a resumed session may deliver right after CONNACK.
    """
    loop = asyncio.get_running_loop()
    try:
        _, conn = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Connection(version, inbox),
                broker.host,
                broker.port,
                ssl=tls,
                server_hostname=broker.host if tls is not None else None,
            ),
            timeout_s,
        )
    except (OSError, TimeoutError) as exc:  # ssl.SSLError (a bad certificate) is an OSError
        what = "TLS connect" if tls is not None else "TCP connect"
        raise MqttError(f"{what} failed: {exc or 'timed out'}") from None
    packet = wire.connect_packet(
        client_id,
        KEEPALIVE_S,
        version,
        clean=False,
        session_expiry_s=SESSION_NEVER_EXPIRES,
        receive_maximum=in_flight,
        max_packet_bytes=wire.MAX_PACKET_BYTES,
        username=broker.username,
        password=broker.password,
    )
    try:
        body = await conn.request(packet, wire.CONNACK, timeout_s)
    except MqttNoAnswer:
        raise
    except MqttError as exc:
        raise MqttNoAnswer(str(exc)) from None
    _session_present, code, properties = wire.parse_connack(body, version)
    if code:
        conn.close()
        raise MqttRefused("CONNECT", code)
    keepalive = properties.get(wire.SERVER_KEEP_ALIVE, KEEPALIVE_S)
    return conn, int(keepalive) if isinstance(keepalive, int) else KEEPALIVE_S


async def _subscribe(conn: _Connection, subscription: str, share_group: str) -> None:
    """SUBSCRIBE QoS 1; with a share group, also drop a plain subscription an earlier
    session may hold (it would get every message a second time)."""
    packet = wire.subscribe_packet(1, subscription, 1, conn.version)
    _, codes = wire.parse_ack_codes(
        await conn.request(packet, wire.SUBACK, REPLY_TIMEOUT_S), conn.version
    )
    if not codes or codes[0] >= 0x80:
        raise MqttRefused(f"SUBSCRIBE {subscription}", codes[0] if codes else 0x80)
    if share_group:
        packet = wire.unsubscribe_packet(2, UPLINK_FILTER, conn.version)
        await conn.request(packet, wire.UNSUBACK, REPLY_TIMEOUT_S)


async def _consume(ingest: Ingest, conn: _Connection, inbox: _Inbox) -> None:
    """Forever: spool what arrived in batches; PUBACK each durable or rejected uplink in order."""
    delay = 0.5
    while True:
        await inbox.arrived.wait()
        inbox.arrived.clear()
        while inbox.messages:
            batch = inbox.messages[:BATCH]
            del inbox.messages[:BATCH]
            outcomes = await ingest.accept_batch([_received(m) for m in batch])
            held = next((i for i, o in enumerate(outcomes) if isinstance(o, NotDurable)), None)
            done = batch if held is None else batch[:held]
            conn.write(b"".join(wire.puback_packet(m.packet_id) for m in done if m.qos))
            if held is None:
                delay = 0.5
                continue
            inbox.messages[:0] = batch[held:]  # keep the arrival order for the acks
            log.warning(
                "holding PUBACK of %d uplinks, retry in %.1f s: %s",
                len(inbox.messages),
                delay,
                outcomes[held],
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def _received(message: wire.Publish) -> Received:
    parts = message.topic.split("/")
    claimed = parts[1] if len(parts) == 3 else ""
    return Received(message.payload, "mqtt", message.topic, claimed)


async def _keep_alive(conn: _Connection, keepalive_s: int) -> None:
    """PINGREQ every half keepalive; raise MqttError when the broker has been silent for 1.5
    keepalives (s3.1.2.10: the same limit the broker applies to us)."""
    if keepalive_s <= 0:
        await asyncio.Future()  # keepalive off: wait forever
    while True:
        await asyncio.sleep(keepalive_s / 2)
        if time.monotonic() - conn.last_in > keepalive_s * 1.5:
            raise MqttError(f"nothing from the broker for {keepalive_s * 1.5:.0f} s")
        conn.write(wire.PINGREQ_PACKET)


def _refuses_v5(exc: MqttError) -> bool:
    """Whether a failed CONNECT looks like a broker without MQTT 5 (e.g. the demo's amqtt)."""
    if isinstance(exc, MqttRefused):
        return exc.code in UNSUPPORTED_PROTOCOL
    return isinstance(exc, MqttNoAnswer)


async def run_mqtt(
    ingest: Ingest,
    broker: Endpoint,
    client_id: str = "",
    share_group: str = "",
    in_flight: int = IN_FLIGHT,
) -> None:
    """Consume uplinks forever, reconnecting with backoff when the broker goes away.

    `client_id` "" means `default_client_id()`. Up to `in_flight` messages are unacknowledged
    at a time (MQTT 5 Receive Maximum).
    """
    client_id = client_id or default_client_id()
    subscription = uplink_filter(share_group)
    tls = tls_context(broker)  # once: a CA file that does not load fails at start
    version = wire.V5
    v5_answered = False  # until a broker answers an MQTT 5 CONNECT, wait for it only briefly
    delay = 0.5
    while True:
        conn: _Connection | None = None
        tasks: list[asyncio.Future[Any]] = []
        try:
            timeout_s = REPLY_TIMEOUT_S if v5_answered or version != wire.V5 else V5_PROBE_TIMEOUT_S
            inbox = _Inbox()
            conn, keepalive_s = await _connect(
                broker, client_id, version, in_flight, timeout_s, inbox, tls
            )
            v5_answered = v5_answered or version == wire.V5
            await _subscribe(conn, subscription, share_group)
            log.info("MQTT subscribed to %s on %s as %s", subscription, broker.redacted, client_id)
            delay = 0.5
            tasks = [
                asyncio.create_task(_consume(ingest, conn, inbox)),
                asyncio.create_task(_keep_alive(conn, keepalive_s)),
            ]
            done, _ = await asyncio.wait([*tasks, conn.closed], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raise what stopped it
        except MqttError as exc:
            if version == wire.V5 and not v5_answered and _refuses_v5(exc):
                log.warning(
                    "MQTT broker %s does not take an MQTT 5 CONNECT (%s): using MQTT 3.1.1, "
                    "without Receive Maximum (the broker's in-flight limit applies)",
                    broker.redacted,
                    exc,
                )
                version = wire.V311
                continue
            log.warning(
                "MQTT connection to %s lost (%s), reconnecting in %.1f s",
                broker.redacted,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        finally:
            # Unacknowledged messages are redelivered by the broker to this session; the ones
            # already spooled come back as duplicates and are stored once.
            for task in tasks:
                task.cancel()
            if conn is not None:
                conn.close()
