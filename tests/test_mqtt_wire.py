"""gateway/mqtt_wire.py against MQTT 5.0 / 3.1.1 byte layouts written out by hand."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway import mqtt_wire as w
from gateway.mqtt_wire import MqttProtocolError, PacketReader, Publish


def s(text: str | bytes) -> bytes:
    """A two-byte-length string (s1.5.4), built by hand."""
    data = text.encode() if isinstance(text, str) else text
    return bytes([len(data) >> 8, len(data) & 0xFF]) + data


def vbi(n: int) -> bytes:
    """A Variable Byte Integer (s1.5.5) for the small lengths these tests use (< 16384)."""
    return bytes([n]) if n < 128 else bytes([n & 0x7F | 0x80, n >> 7])


def publish_body(
    topic: str, payload: bytes, packet_id: int = 0, props: bytes | None = b""
) -> bytes:
    """A PUBLISH variable header + payload; `props=None` means 3.1.1 (no property block)."""
    pid = bytes([packet_id >> 8, packet_id & 0xFF]) if packet_id else b""
    block = b"" if props is None else vbi(len(props)) + props
    return s(topic) + pid + block + payload


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + vbi(len(body)) + body


def test_connect_v5_full_layout() -> None:
    got = w.connect_packet("dev-1", 60, w.V5, True, 3600, 32, 1 << 20, "user", "pw")
    props = b"\x11\x00\x00\x0e\x10" + b"\x21\x00\x20" + b"\x27\x00\x10\x00\x00"
    body = b"\x00\x04MQTT" + b"\x05" + b"\xc2" + b"\x00\x3c" + bytes([len(props)]) + props
    body += b"\x00\x05dev-1" + b"\x00\x04user" + b"\x00\x02pw"
    assert got == b"\x10" + bytes([len(body)]) + body
    # independent reading of the property block: paho-mqtt's decoder
    decoded, size = Properties(PacketTypes.CONNECT).unpack(got[2 + 10 :])
    assert size == 1 + len(props)
    assert decoded.SessionExpiryInterval == 3600
    assert decoded.ReceiveMaximum == 32
    assert decoded.MaximumPacketSize == 1 << 20


def test_connect_v5_zero_properties_are_omitted() -> None:
    got = w.connect_packet("c", 0x1234, w.V5, False)
    body = b"\x00\x04MQTT\x05\x00\x12\x34" + b"\x00" + b"\x00\x01c"
    assert got == b"\x10" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("username", "password", "clean", "flags"),
    [(None, None, False, 0x00), (None, None, True, 0x02), ("u", None, True, 0x82),
     ("u", "p", False, 0xC0), ("u", "p", True, 0xC2)],
)  # fmt: skip
def test_connect_v311_flags_and_payload(
    username: str | None, password: str | None, clean: bool, flags: int
) -> None:
    got = w.connect_packet("id", 300, w.V311, clean, 3600, 10, 999, username, password)
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x01\x2c" + b"\x00\x02id"
    body += (s(username) if username else b"") + (s(password) if password else b"")
    assert got == b"\x10" + bytes([len(body)]) + body  # no properties at all in 3.1.1


@pytest.mark.parametrize(
    ("remaining", "encoded"),
    [(127, b"\x7f"), (128, b"\x80\x01"), (16383, b"\xff\x7f"), (16384, b"\x80\x80\x01")],
)
def test_connect_remaining_length_varint(remaining: int, encoded: bytes) -> None:
    client_id = "x" * (remaining - 12)  # 3.1.1 body: 10 header bytes + 2-byte length + id
    got = w.connect_packet(client_id, 60, w.V311, True)
    assert got[: 1 + len(encoded)] == b"\x10" + encoded
    assert len(got) == 1 + len(encoded) + remaining
    assert got.endswith(s(client_id))


def test_connect_client_id_of_200_chars() -> None:
    got = w.connect_packet("a" * 200, 60, w.V5, True)
    assert got[:3] == b"\x10\xd5\x01"  # 10 + 1 + 2 + 200 = 213 = 0x55 + 1 * 128
    assert len(got) == 3 + 213


@pytest.mark.parametrize(("version", "props"), [(w.V5, b"\x00"), (w.V311, b"")])
def test_subscribe_unsubscribe_puback(version: int, props: bytes) -> None:
    body = b"\x01\x02" + props + b"\x00\x05a/b/#" + b"\x01"
    assert w.subscribe_packet(0x0102, "a/b/#", 1, version) == b"\x82" + bytes([len(body)]) + body
    body = b"\xbe\xef" + props + b"\x00\x03a/+"
    assert w.unsubscribe_packet(0xBEEF, "a/+", version) == b"\xa2" + bytes([len(body)]) + body
    assert w.puback_packet(0xABCD) == b"\x40\x02\xab\xcd"


STREAM_PACKETS = [
    (0x32, publish_body("t/1", b"hello", 1)),
    (0x32, publish_body("up/" + "z" * 150, b"p" * 40, 0x0203, b"\x02\x00\x00\x00\x3c")),
    (0x30, publish_body("q0", b"")),
    (0xD0, b""),  # PINGRESP
    (0x32, publish_body("t/2", bytes(range(256)), 0xFFFF, b"\x26" + s("k") + s("v"))),
]
STREAM = b"".join(packet(first, body) for first, body in STREAM_PACKETS)


def test_stream_whole() -> None:
    assert PacketReader().feed(STREAM) == STREAM_PACKETS


def test_stream_split_at_every_point() -> None:
    for cut in range(len(STREAM) + 1):
        reader = PacketReader()
        assert reader.feed(STREAM[:cut]) + reader.feed(STREAM[cut:]) == STREAM_PACKETS, cut


def test_stream_byte_by_byte() -> None:
    reader = PacketReader()
    assert [p for i in range(len(STREAM)) for p in reader.feed(STREAM[i : i + 1])] == STREAM_PACKETS


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_stream_split_at_random_points(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    reader = PacketReader()
    got = [p for a, b in itertools.pairwise(points) for p in reader.feed(STREAM[a:b])]
    assert got == STREAM_PACKETS


def test_reader_rejects_five_byte_varint_and_oversize() -> None:
    with pytest.raises(MqttProtocolError):
        PacketReader().feed(b"\x30\xff\xff\xff\xff\x01")
    reader = PacketReader()
    assert reader.feed(b"\x30\x80\x80") == []  # incomplete 3-byte length: wait for more
    with pytest.raises(MqttProtocolError):
        reader.feed(b"\x80\x80")
    with pytest.raises(MqttProtocolError):
        PacketReader(max_bytes=100).feed(b"\x30\x65")  # 101 bytes announced
    assert PacketReader(max_bytes=3).feed(b"\x30\x03abc") == [(0x30, b"abc")]


def test_parse_publish_v5_and_v311() -> None:
    got = w.parse_publish(0x32, publish_body("a/b", b"data", 7), w.V5)
    assert got == Publish("a/b", b"data", 1, 7)
    props = b"\x02\x00\x00\x00\x0a" + b"\x26" + s("key") + s("value")
    got = w.parse_publish(0x34, publish_body("x", b"\x00\x01", 0x8001, props), w.V5)
    assert got == Publish("x", b"\x00\x01", 2, 0x8001)
    got = w.parse_publish(0x32, publish_body("a/b", b"data", 7, None), w.V311)
    assert got == Publish("a/b", b"data", 1, 7)
    assert w.parse_publish(0x30, publish_body("q", b"\x00zz", 0, None), w.V311) == Publish(
        "q", b"\x00zz", 0, 0
    )
    assert w.parse_publish(0x31, publish_body("q", b"zz"), w.V5) == Publish("q", b"zz", 0, 0)


def test_parse_publish_qos3_raises() -> None:
    with pytest.raises(MqttProtocolError):
        w.parse_publish(0x36, publish_body("a", b"x", 1), w.V5)


@pytest.mark.parametrize(
    ("first", "version", "pid", "props"),
    [(0x32, w.V5, 9, b"\x02\x00\x00\x00\x0a\x26" + s("k") + s("vv")), (0x32, w.V5, 9, b""),
     (0x30, w.V5, 0, b"\x01\x01"), (0x32, w.V311, 9, None), (0x30, w.V311, 0, None)],
)  # fmt: skip
def test_parse_publish_every_truncation(
    first: int, version: int, pid: int, props: bytes | None
) -> None:
    payload = b"payload"
    body = publish_body("top/ic", payload, pid, props)
    payload_at = len(body) - len(payload)
    for cut in range(len(body)):
        try:
            got = w.parse_publish(first, body[:cut], version)
        except MqttProtocolError:
            continue
        assert cut >= payload_at, f"cut at {cut} before the payload did not raise"
        assert got == Publish("top/ic", payload[: cut - payload_at], first >> 1 & 3, pid)


def test_parse_connack() -> None:
    assert w.parse_connack(b"\x01\x00", w.V311) == (True, 0, {})
    assert w.parse_connack(b"\x00\x05", w.V311) == (False, 5, {})
    got = w.parse_connack(b"\x01\x00\x03\x13\x00\x1e", w.V5)
    assert got == (True, 0, {0x13: 30})
    assert w.parse_connack(b"\x00\x87\x00", w.V5) == (False, 0x87, {})
    with pytest.raises(MqttProtocolError):
        w.parse_connack(b"\x00", w.V5)
    with pytest.raises(MqttProtocolError):
        w.parse_connack(b"\x00\x00\x03\x13\x00", w.V5)


def test_parse_ack_codes() -> None:
    assert w.parse_ack_codes(b"\x00\x07\x00\x01\x80", w.V5) == (7, b"\x01\x80")
    props = b"\x1f" + s("why")
    assert w.parse_ack_codes(b"\x12\x34" + vbi(len(props)) + props + b"\x02", w.V5) == (
        0x1234,
        b"\x02",
    )
    assert w.parse_ack_codes(b"\x00\x07\x00\x80", w.V311) == (7, b"\x00\x80")  # SUBACK
    assert w.parse_ack_codes(b"\x00\x09", w.V311) == (9, b"")  # UNSUBACK 3.1.1
    with pytest.raises(MqttProtocolError):
        w.parse_ack_codes(b"\x00", w.V311)


def test_parse_disconnect() -> None:
    assert w.parse_disconnect(b"") == (0, "")
    assert w.parse_disconnect(b"\x8e") == (0x8E, "")
    props = b"\x1f" + s("session taken over")
    assert w.parse_disconnect(b"\x8e" + vbi(len(props)) + props) == (0x8E, "session taken over")


def test_read_properties() -> None:
    props = b"\x02\x00\x00\x00\x3c\x26" + s("k") + s("v") + b"\x0b\x80\x01\x01\x09"
    body = b"xx" + vbi(len(props)) + props + b"tail"
    assert w.read_properties(body, 2) == ({0x02: 60, 0x26: "k", 0x0B: 128, 0x01: 9}, len(body) - 4)


@pytest.mark.parametrize(
    "block",
    [b"\x02\x00\x00", b"\x01\x01\x05\x00", b"\x02\x13\x00\x01", b"\x05\x1f\x00\x09abc",
     b"\x02\x02\x00\x00\x00\x00\x00\x00", b"\x05\x26\x00\x01k\x00\x01v", b"\x01\x26",
     b"\x80", b"\x07", b"\x02\x05\x00"],
)  # fmt: skip
def test_read_properties_malformed(block: bytes) -> None:
    """Unknown ids (0x00, 0x05), properties past the block, truncated blocks all raise."""
    with pytest.raises(MqttProtocolError):
        w.read_properties(block, 0)
