"""Uplink size: what one report costs on the air, SenML-CBOR + COSE against SenML-JSON.

    .venv/bin/python -m bench.uplink_size

Encodes with the firmware's own modules (senml, cose, coap, mqtt from firmware/, loaded into
CPython; the bytes equal MicroPython's, tests/firmware/test_cose.py) for a node with a
9-character id at a counter of 1,000 (a two-byte Partial IV: a node at 15 minutes passes 256
on its third day and 65,536 after 1.9 years):

    senml_cbor  the SenML pack (RFC 8428 s6, CBOR labels)
    cose        the pack in COSE_Mac0 with HMAC 256/64 (RFC 9052), what the gateway receives
    senml_json  the same records as compact SenML-JSON (RFC 8428 s5, no whitespace),
                unsigned: the baseline a home-made stack would send
    coap        the whole confirmable CoAP POST the node sends (RFC 7252: header, 4-byte
                token, Uri-Path "r", Content-Format, Uri-Query "c=0" (the config version it
                has handled), payload), before UDP/IP
    mqtt        the whole MQTT 3.1.1 PUBLISH, QoS 1, topic ruong/<node>/up, before TCP/IP

The ratio column is senml_json / cose: how many times smaller the signed CBOR uplink is than
the unsigned JSON one. Not a test (the firmware README quotes these figures, and
tests/test_uplink_size.py checks the quote against `measure()`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import cbor2

from backend.firmware_src import import_firmware

NODE_ID = "ruong-n01"  # 9 characters, like the registry's ids
KEY = bytes(range(32))
COUNTER = 1000
SAMPLE_TIME_S = 1_782_900_000  # 2026-07-01 10:00 UTC+7
MAX_UPLINK_BYTES = 512  # the firmware's default max_uplink_bytes for one SenML pack

SIX = {  # the six quantities of a paddy node
    "soil_vwc": 38.2,
    "soil_temp": 24.6,
    "air_temp": 27.3,
    "air_rh": 81.0,
    "rain": 0.6,
    "water_level": -0.042,
}
TEN = SIX | {"air_pressure": 100_810.0, "leaf_wet": 1.0, "battery": 3.98, "rssi": -71.0}

# RFC 8428 s6 Table 6: CBOR label -> SenML-JSON name, for the labels the firmware writes
JSON_NAMES = {-2: "bn", -3: "bt", 0: "n", 1: "u", 2: "v", 6: "t"}


@dataclass(frozen=True)
class Size:
    """Bytes of one uplink in each encoding (see the module docstring)."""

    case: str
    senml_cbor: int
    cose: int
    senml_json: int
    coap: int
    mqtt: int


def senml_json(pack: bytes) -> bytes:
    """The SenML-CBOR `pack` as compact SenML-JSON (RFC 8428 s5), records and order kept."""
    records: list[dict[int, Any]] = cbor2.loads(pack)
    as_json = [{JSON_NAMES[label]: value for label, value in r.items()} for r in records]
    return json.dumps(as_json, separators=(",", ":"), ensure_ascii=False).encode()


def _size(case: str, pack: bytes) -> Size:
    cose, coap, mqtt = import_firmware("cose"), import_firmware("coap"), import_firmware("mqtt")
    signed = cose.mac0(KEY, NODE_ID, COUNTER, pack)
    request = coap.encode_message(
        coap.CON,
        coap.POST,
        0x1234,
        b"\x00\x01\x02\x03",
        [
            (coap.OPT_URI_PATH, b"r"),
            (coap.OPT_CONTENT_FORMAT, coap._uint_option(coap.CF_COSE_MAC0)),
            (coap.OPT_URI_QUERY, b"c=0"),
        ],
        signed,
    )
    publish = mqtt.publish_packet(f"ruong/{NODE_ID}/up", signed, packet_id=7)
    return Size(case, len(pack), len(signed), len(senml_json(pack)), len(request), len(publish))


def measure() -> list[Size]:
    """The sizes of the typical uplinks: one quantity, six, all ten, and a backlog pack (as
    many six-quantity samples, 15 minutes apart, as fit in MAX_UPLINK_BYTES)."""
    senml = import_firmware("senml")
    backlog_samples = [(i, SAMPLE_TIME_S + 900 * i, SIX) for i in range(6)]
    backlog, used = senml.encode_many(NODE_ID, backlog_samples, MAX_UPLINK_BYTES)
    return [
        _size("1 quantity", senml.encode(NODE_ID, SAMPLE_TIME_S, {"soil_vwc": 38.2})),
        _size("6 quantities", senml.encode(NODE_ID, SAMPLE_TIME_S, SIX)),
        _size("10 quantities", senml.encode(NODE_ID, SAMPLE_TIME_S, TEN)),
        _size(f"backlog: {used} x 6", bytes(backlog)),
    ]


def main() -> int:
    print(
        f"node {NODE_ID!r}, counter {COUNTER}; bytes per uplink "
        "(coap / mqtt: the whole message before UDP / TCP)"
    )
    header = ("case", "senml_cbor", "cose", "senml_json", "json/cose", "coap", "mqtt")
    print(f"{header[0]:<22}" + "".join(f"{h:>12}" for h in header[1:]))
    for s in measure():
        print(
            f"{s.case:<22}{s.senml_cbor:>12}{s.cose:>12}{s.senml_json:>12}"
            f"{s.senml_json / s.cose:>11.2f}x{s.coap:>12}{s.mqtt:>12}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
