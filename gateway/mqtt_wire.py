"""The MQTT packets of the gateway's uplink subscriber, as bytes: pure functions, no I/O.

MQTT 5.0 (OASIS Standard, 2019) and 3.1.1 (2014), client side, only what a subscriber with a
persistent session needs: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBACK, PINGREQ and DISCONNECT
going out; CONNACK, SUBACK, UNSUBACK, PUBLISH, PINGRESP and DISCONNECT coming in. Section
numbers below are MQTT 5.0's. The connection that uses them is gateway/mqtt_client.py.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

V311, V5 = 4, 5  # the protocol level byte of CONNECT (s3.1.2.2)
CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # 3.1.1, and 5.0's "normal disconnection" with no properties
# Maximum Packet Size sent in CONNECT: an MQTT 5 broker discards (and so acknowledges) bigger
# messages instead of sending them (s3.1.2.11.4); anything bigger arriving is a broken stream
MAX_PACKET_BYTES = 16 << 20

# s2.2.2.2: the properties the subscriber reads or writes, with their wire types
SESSION_EXPIRY_INTERVAL = 0x11  # four-byte integer, s
SERVER_KEEP_ALIVE = 0x13  # two-byte integer, s
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21  # two-byte integer
MAXIMUM_PACKET_SIZE = 0x27  # four-byte integer, bytes
_BYTE, _TWO, _FOUR, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _FOUR, 0x12: _STRING, 0x13: _TWO, 0x15: _STRING, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _FOUR, 0x19: _BYTE, 0x1A: _STRING, 0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO,
    0x22: _TWO, 0x23: _TWO, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip


class MqttProtocolError(ValueError):
    """The broker sent bytes that are not the MQTT this client speaks: drop the connection."""


class Publish(NamedTuple):
    """A received PUBLISH. `packet_id` is 0 for QoS 0 (which has none)."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int


def _varint(n: int) -> bytes:
    """Variable Byte Integer (s1.5.5)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    """UTF-8 Encoded String / Binary Data: two-byte length, then the bytes (s1.5.4, s1.5.6)."""
    data = value.encode() if isinstance(value, str) else value
    if len(data) > 0xFFFF:
        raise ValueError(f"{len(data)} bytes do not fit an MQTT string")
    return struct.pack(">H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_packet(
    client_id: str,
    keepalive_s: int,
    version: int,
    clean: bool,
    session_expiry_s: int = 0,
    receive_maximum: int = 0,
    max_packet_bytes: int = 0,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """CONNECT (s3.1). MQTT 5 sends Session Expiry Interval, Receive Maximum and Maximum Packet
    Size when non-zero; 3.1.1 has none of them (its clean session 0 keeps the session until the
    next clean one)."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    flags |= 0x02 if clean else 0
    body = _string("MQTT") + bytes([version, flags]) + struct.pack(">H", keepalive_s)
    if version == V5:
        properties = b""
        if session_expiry_s:
            properties += struct.pack(">BI", SESSION_EXPIRY_INTERVAL, session_expiry_s)
        if receive_maximum:
            properties += struct.pack(">BH", RECEIVE_MAXIMUM, receive_maximum)
        if max_packet_bytes:
            properties += struct.pack(">BI", MAXIMUM_PACKET_SIZE, max_packet_bytes)
        body += _varint(len(properties)) + properties
    body += _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(CONNECT << 4, body)


def subscribe_packet(packet_id: int, topic_filter: str, qos: int, version: int) -> bytes:
    """SUBSCRIBE to one filter (s3.8); MQTT 5's options byte carries only the QoS."""
    properties = b"\x00" if version == V5 else b""
    body = struct.pack(">H", packet_id) + properties + _string(topic_filter) + bytes([qos])
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def unsubscribe_packet(packet_id: int, topic_filter: str, version: int) -> bytes:
    """UNSUBSCRIBE from one filter (s3.10)."""
    properties = b"\x00" if version == V5 else b""
    body = struct.pack(">H", packet_id) + properties + _string(topic_filter)
    return _packet(UNSUBSCRIBE << 4 | 0x02, body)


def puback_packet(packet_id: int) -> bytes:
    """PUBACK, success (s3.4.2.1: in MQTT 5 a remaining length of 2 means reason code 0)."""
    return struct.pack(">BBH", PUBACK << 4, 2, packet_id)


def _read_varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None when `data` ends inside it."""
    value = shift = 0
    for i in range(pos, min(pos + 4, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    if len(data) - pos >= 4:
        raise MqttProtocolError("Variable Byte Integer longer than 4 bytes")
    return None


class PacketReader:
    """Splits a byte stream into packets: `feed` returns each complete (first byte, body)."""

    def __init__(self, max_bytes: int = MAX_PACKET_BYTES) -> None:
        self._pending = b""
        self.max_bytes = max_bytes

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._pending + data if self._pending else data
        packets = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            length = _read_varint(buf, pos + 1)
            if length is None:
                break
            size, start = length
            if size > self.max_bytes:
                raise MqttProtocolError(f"{size}-byte packet > {self.max_bytes}")
            if end - start < size:
                break
            packets.append((buf[pos], buf[start : start + size]))
            pos = start + size
        self._pending = buf[pos:]
        return packets


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise MqttProtocolError(f"{what}: {len(body)} bytes, at least {size} needed")


def read_properties(body: bytes, pos: int) -> tuple[dict[int, object], int]:
    """The MQTT 5 property block at `pos` (s2.2.2) and the position after it."""
    length = _read_varint(body, pos)
    if length is None:
        raise MqttProtocolError("truncated property length")
    size, pos = length
    end = pos + size
    _need(body, end, "properties")
    try:
        return _read_property_items(body, pos, end), end
    except (struct.error, IndexError):
        raise MqttProtocolError("truncated property") from None


def _read_property_items(body: bytes, pos: int, end: int) -> dict[int, object]:
    properties: dict[int, object] = {}
    while pos < end:
        ident = body[pos]
        kind = _PROPERTY_TYPES.get(ident)
        pos += 1
        if kind is None:
            raise MqttProtocolError(f"unknown property 0x{ident:02x}")
        value: object
        if kind == _BYTE:
            value, pos = body[pos], pos + 1
        elif kind == _TWO:
            (value,), pos = struct.unpack_from(">H", body, pos), pos + 2
        elif kind == _FOUR:
            (value,), pos = struct.unpack_from(">I", body, pos), pos + 4
        elif kind == _VARINT:
            varint = _read_varint(body, pos)
            if varint is None:
                raise MqttProtocolError("truncated property")
            value, pos = varint
        else:
            count = 2 if kind == _PAIR else 1
            items = []
            for _ in range(count):
                (size,) = struct.unpack_from(">H", body, pos)
                items.append(body[pos + 2 : pos + 2 + size])
                pos += 2 + size
            value = items[0] if kind == _BINARY else items[0].decode("utf-8", "replace")
        if pos > end:
            raise MqttProtocolError(f"property 0x{ident:02x} runs past the block")
        properties[ident] = value
    return properties


def parse_connack(body: bytes, version: int) -> tuple[bool, int, dict[int, object]]:
    """CONNACK (s3.2): (session present, reason/return code, MQTT 5 properties)."""
    _need(body, 2, "CONNACK")
    properties = read_properties(body, 2)[0] if version == V5 and len(body) > 2 else {}
    return bool(body[0] & 0x01), body[1], properties


def parse_ack_codes(body: bytes, version: int) -> tuple[int, bytes]:
    """SUBACK / UNSUBACK (s3.9, s3.11): (packet id, one reason code per filter; 3.1.1's
    UNSUBACK has none)."""
    _need(body, 2, "SUBACK/UNSUBACK")
    (packet_id,) = struct.unpack_from(">H", body)
    pos = read_properties(body, 2)[1] if version == V5 else 2
    return packet_id, body[pos:]


def parse_publish(first: int, body: bytes, version: int) -> Publish:
    """PUBLISH (s3.3). Properties are skipped: this client sets no Topic Alias Maximum, so the
    broker sends every topic in full (s3.3.2.3.4)."""
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise MqttProtocolError("PUBLISH with QoS 3")
    _need(body, 2, "PUBLISH")
    (topic_len,) = struct.unpack_from(">H", body)
    pos = 2 + topic_len
    packet_id = 0
    if qos:
        _need(body, pos + 2, "PUBLISH")
        (packet_id,) = struct.unpack_from(">H", body, pos)
        pos += 2
    if version == V5:
        _need(body, pos + 1, "PUBLISH")
        pos = pos + 1 if body[pos] == 0 else read_properties(body, pos)[1]  # usually none
    _need(body, pos, "PUBLISH")
    topic = body[2 : 2 + topic_len].decode("utf-8", "replace")
    return Publish(topic, body[pos:], qos, packet_id)


def parse_disconnect(body: bytes) -> tuple[int, str]:
    """A broker's MQTT 5 DISCONNECT (s3.14): (reason code, reason string or "")."""
    if not body:
        return 0, ""
    properties = read_properties(body, 1)[0] if len(body) > 1 else {}
    return body[0], str(properties.get(REASON_STRING, ""))
