"""MQTT 3.1.1 client over TCP: the node's second uplink transport (OASIS MQTT 3.1.1).

Connects as client id = node id with a last will ("offline", retained, QoS 1) on
`ruong/<node>/status`, announces "online" there (retained), subscribes QoS 1 to
`ruong/<node>/config` when asked (`downlinks`, as the node runs it: the retained config
downlink, docs/protocol.md "Config downlink"), and
publishes each uplink QoS 1 to `ruong/<node>/up`, resending with DUP until the matching PUBACK
(s4.3.2). A config PUBLISH may arrive while we wait for any acknowledgement: it is kept in
`downlink` and PUBACKed. The same COSE bytes
travel here as over CoAP. Durability across resets belongs to the node's outbox, not to this
client, which therefore uses a clean session.

It logs in with `user` / `password` (the broker's account for this node: its node id and the
password `ruong node provision` derived from its key, docs/mqtt-broker.md); with `tls_ca`, the
path of a DER CA certificate, it speaks MQTT over TLS (`mqtts://`, port 8883), refusing a
broker whose certificate that CA did not sign or that names another host. An SSL socket has no
settimeout, so reads then wait in `select.poll`, which also sees bytes mbedTLS has already
decrypted.
"""

import select
import socket
import struct

from compat import const, is_timeout, os_errno, ticks_add, ticks_diff, ticks_ms

CONNECT = const(0x10)
CONNACK = const(0x20)
PUBLISH = const(0x30)
PUBACK = const(0x40)
SUBSCRIBE = const(0x82)  # packet type 8 with the reserved flags 0b0010 (s3.8.1)
SUBACK = const(0x90)
PINGREQ = const(0xC0)
PINGRESP = const(0xD0)
DISCONNECT = const(0xE0)
DUP = const(0x08)
RETAIN = const(0x01)
QOS1 = const(0x02)

ACK_TIMEOUT_S = 5.0
MAX_RESENDS = 3
KEEPALIVE_S = 60


class MQTTError(Exception):
    """The broker refused us, broke the protocol, or closed the connection."""


class MQTTTimeout(MQTTError):
    """No CONNACK / PUBACK before the deadline (after the DUP resends)."""


class MQTTRefused(MQTTError):
    """CONNACK with a non-zero return code (s3.2.2.3), e.g. 5 = not authorised."""

    def __init__(self, code):
        super().__init__("connection refused, return code %d" % code)
        self.code = code


class MQTTTLSError(MQTTError):
    """The TLS handshake failed: the CA file is unreadable, or the broker's certificate is
    not signed by it or names another host."""


def _length(n):
    """Remaining Length (s2.2.3): 7 bits per byte, high bit = more."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _string(data):
    """UTF-8 string / binary field: 2-byte length prefix (s1.5.3)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return struct.pack(">H", len(data)) + data


def connect_packet(
    client_id, keepalive_s, will_topic=None, will_message=b"", clean=True, user=None, password=None
):
    """CONNECT (s3.1) with an optional retained QoS 1 last will and optional credentials:
    User Name and Password flags (s3.1.2.8, s3.1.2.9; a password only with a user name),
    their fields last in the payload (s3.1.3.4, s3.1.3.5)."""
    flags = 0x02 if clean else 0
    payload = _string(client_id)
    if will_topic is not None:
        flags |= 0x04 | (1 << 3) | 0x20  # will flag, will QoS 1, will retain
        payload += _string(will_topic) + _string(will_message)
    if user is not None:
        flags |= 0x80
        payload += _string(user)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    variable = _string("MQTT") + struct.pack(">BBH", 4, flags, keepalive_s)
    body = variable + payload
    return bytes((CONNECT,)) + _length(len(body)) + body


def publish_packet(topic, payload, packet_id=0, retain=False, dup=False):
    """PUBLISH (s3.3): QoS 1 when `packet_id` is set, else QoS 0."""
    first = PUBLISH | (RETAIN if retain else 0) | (DUP if dup else 0)
    body = _string(topic)
    if packet_id:
        first |= QOS1
        body += struct.pack(">H", packet_id)
    body += payload
    return bytes((first,)) + _length(len(body)) + body


class MQTTClient:
    """One connection to the broker. Also the node's `Transport` (see `send`)."""

    name = "mqtt"
    # Transport interface for config downlinks: the broker redelivers the retained config on
    # every subscribe, so the version the node has is not sent (the node ignores old ones)
    config_seen = None
    downlink = None  # the last non-empty PUBLISH on ruong/<node>/config, until the node takes it

    def __init__(
        self,
        node_id,
        host,
        port=1883,
        keepalive_s=KEEPALIVE_S,
        ack_timeout_s=ACK_TIMEOUT_S,
        max_resends=MAX_RESENDS,
        downlinks=False,
        user=None,
        password=None,
        tls_ca=None,
    ):
        self.node_id = node_id
        self.user = user
        self.password = password
        self.tls_ca = tls_ca  # path of the DER CA certificate; None: plain TCP
        self.host = host
        self.port = port
        self.keepalive_s = keepalive_s
        self.ack_timeout_s = ack_timeout_s
        self.max_resends = max_resends
        self.topic_up = "ruong/%s/up" % node_id
        self.topic_status = "ruong/%s/status" % node_id
        self.topic_config = ("ruong/%s/config" % node_id).encode()
        self.downlinks = downlinks  # subscribe to topic_config on connect (the node does)
        self.sock = None
        self.raw = None  # the TCP socket under the TLS one (its timeout bounds a TLS record)
        self.poller = None  # select.poll on the TLS socket; None on plain TCP
        self.packet_id = 0
        self.resends = 0  # DUP resends over the client's life, for node_status

    # -- connection ------------------------------------------------------------------------
    def open(self):
        """Connect, wait for CONNACK, announce "online" (retained); with `downlinks`, subscribe
        to the config topic and wait for SUBACK. Raises MQTTError/OSError."""
        if self.sock is not None:
            return
        info = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        try:
            sock.settimeout(self.ack_timeout_s)
            sock.connect(info[-1])
            self.sock = sock
            if self.tls_ca is not None:
                self.raw = sock
                self.sock = self._handshake(sock)
            self._write(
                connect_packet(
                    self.node_id,
                    self.keepalive_s,
                    self.topic_status,
                    b"offline",
                    user=self.user,
                    password=self.password,
                )
            )
            deadline = ticks_add(ticks_ms(), int(self.ack_timeout_s * 1000))
            kind, body = self._read_packet(deadline)
            if kind != CONNACK or len(body) != 2:
                raise MQTTError("expected CONNACK, got packet type 0x%02x" % kind)
            if body[1] != 0:
                raise MQTTRefused(body[1])
            self.publish(self.topic_status, b"online", retain=True)
            if self.downlinks:
                self.subscribe(self.topic_config)
        except BaseException:
            self._drop()
            raise

    def close(self):
        """Say "offline" (retained, QoS 0) and DISCONNECT cleanly (s3.14: the broker then
        discards the will), then close: when the node stops, and on a board before each deep
        sleep. A sleeping board is not connected; had it dropped the connection instead, the
        broker would publish the will when the next cycle's CONNECT takes the session over
        (MQTT-3.1.2-8), and the retained status would say "online" all night."""
        if self.sock is None:
            return
        try:
            self._write(publish_packet(self.topic_status, b"offline", retain=True))
            self._write(bytes((DISCONNECT, 0)))
        except OSError:
            pass  # the connection is already gone; closing is all that is left
        self._drop()

    def _handshake(self, sock):
        """The TLS socket over `sock`, the broker verified against `tls_ca` and `host`."""
        import ssl  # only over TLS

        try:
            with open(self.tls_ca, "rb") as f:
                ca = f.read()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            # not the default on the unix port (CERT_NONE); the ESP32 stubs lack the attribute
            context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]
            context.load_verify_locations(cadata=ca)
            ca = None
            tls = context.wrap_socket(sock, server_hostname=self.host)
        except (OSError, ValueError) as exc:  # MicroPython: ValueError for a bad certificate
            raise MQTTTLSError("TLS handshake with %s failed: %s" % (self.host, exc))
        self.poller = select.poll()
        self.poller.register(tls, select.POLLIN)
        return tls

    def _drop(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.raw is not None:
            self.raw.close()
            self.raw = None
        self.poller = None

    # -- framing ---------------------------------------------------------------------------
    def _sock(self):
        """The connected socket; MQTTError once it was dropped (send() then reconnects)."""
        sock = self.sock
        if sock is None:
            raise MQTTError("not connected")
        return sock

    def _write(self, packet):
        self._sock().sendall(packet)

    def _read_exact(self, n, deadline):
        sock = self._sock()
        chunks = []
        while n:
            remaining = ticks_diff(deadline, ticks_ms())
            if remaining <= 0:
                raise MQTTTimeout("timed out reading from the broker")
            if self.poller is None:
                sock.settimeout(remaining / 1000)
            elif not self.poller.poll(remaining):
                continue  # nothing within the deadline: the check above times out
            try:
                chunk = sock.recv(n)
            except OSError as exc:
                if is_timeout(exc):
                    raise MQTTTimeout("timed out reading from the broker")
                raise
            if not chunk:
                raise MQTTError("broker closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _read_packet(self, deadline):
        """(first byte, body) of the next control packet (s2.2)."""
        first = self._read_exact(1, deadline)[0]
        length = 0
        shift = 0
        while True:
            byte = self._read_exact(1, deadline)[0]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTError("malformed Remaining Length")
        return first, self._read_exact(length, deadline) if length else b""

    # -- publishing ------------------------------------------------------------------------
    def _next_packet_id(self):
        self.packet_id = self.packet_id % 0xFFFF + 1  # 1..65535 (s2.3.1)
        return self.packet_id

    def publish(self, topic, payload, retain=False):
        """QoS 1 PUBLISH; returns once the matching PUBACK arrives (s4.3.2).

        Resends with DUP after each `ack_timeout_s` without PUBACK, `max_resends` times, then
        raises MQTTTimeout.
        """
        packet_id = self._next_packet_id()
        packet = publish_packet(topic, payload, packet_id, retain)
        for attempt in range(self.max_resends + 1):
            if attempt:
                self.resends += 1
                packet = publish_packet(topic, payload, packet_id, retain, dup=True)
            self._write(packet)
            try:
                self._wait_ack(PUBACK, packet_id)
                return
            except MQTTTimeout:
                continue
        raise MQTTTimeout(
            "no PUBACK for packet %d after %d resends" % (packet_id, self.max_resends)
        )

    def subscribe(self, topic):
        """SUBSCRIBE `topic` at QoS 1 (s3.8) and wait for its SUBACK (s3.9). A refusal
        (return code 0x80) is not an error: the node then simply gets no configs."""
        packet_id = self._next_packet_id()
        body = struct.pack(">H", packet_id) + _string(topic) + b"\x01"
        self._write(bytes((SUBSCRIBE,)) + _length(len(body)) + body)
        return self._wait_ack(SUBACK, packet_id)[2:]

    def _wait_ack(self, kind, packet_id):
        """Body of the `kind` packet (PUBACK, SUBACK) for `packet_id`, read within
        `ack_timeout_s`; PUBLISH packets arriving meanwhile go to `_incoming`, anything else
        (PINGRESP, a stale acknowledgement) is skipped. MQTTTimeout when none came."""
        deadline = ticks_add(ticks_ms(), int(self.ack_timeout_s * 1000))
        while True:
            first, body = self._read_packet(deadline)
            if first & 0xF0 == PUBLISH:
                self._incoming(first, body)
            elif first == kind and len(body) >= 2 and body[0] << 8 | body[1] == packet_id:
                return body

    def _incoming(self, first, body):
        """A PUBLISH from the broker (s3.3): PUBACK it when QoS 1; keep a non-empty payload
        on the config topic as the downlink (an empty retained one means "cleared")."""
        if len(body) < 2:
            raise MQTTError("PUBLISH shorter than its topic length")
        pos = 2 + (body[0] << 8 | body[1])
        topic = body[2:pos]
        if first & 0x06:  # QoS 1 (we subscribed with QoS 1, so never 2): has a packet id
            self._write(bytes((PUBACK, 2)) + body[pos : pos + 2])
            pos += 2
        if topic == self.topic_config and len(body) > pos:
            self.downlink = body[pos:]

    def send(self, payload):
        """Transport interface: publish one uplink to ruong/<node>/up, return a result string.

        "puback" when the broker acknowledged, "timeout" when it never did, "refused:<rc>"
        when it refused the connection (5: not authorised, a wrong or revoked account),
        "error:tls" when the TLS handshake failed, "error:<errno>" / "error:closed" on
        network failures.
        A broken connection (e.g. dropped while the node slept) is re-opened once.
        """
        for attempt in (0, 1):
            try:
                self.open()
                self.publish(self.topic_up, payload)
                return "puback"
            except MQTTTimeout:
                self._drop()
                return "timeout"
            except MQTTRefused as exc:
                return "refused:%d" % exc.code
            except MQTTTLSError:
                return "error:tls"  # open() dropped the connection; a retry would fail alike
            except MQTTError:
                self._drop()
                if attempt:
                    return "error:closed"
            except OSError as exc:
                self._drop()
                if attempt:
                    return "error:%d" % os_errno(exc)
        return "error:closed"
