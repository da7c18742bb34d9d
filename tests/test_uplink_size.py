"""bench/uplink_size.py: its SenML-JSON baseline is RFC 8428's JSON form of the same records,
and the firmware README quotes its table as it prints it today."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2
import pytest

from backend.firmware_src import import_firmware
from bench import uplink_size
from bench.uplink_size import NODE_ID, SAMPLE_TIME_S, measure, senml_json

README = Path(__file__).resolve().parents[1] / "firmware" / "README.md"


def test_senml_json_names_the_cbor_labels_as_rfc8428_does() -> None:
    """RFC 8428 s6 Table 6: bn -2, bt -3, n 0, u 1, v 2; compact, record and key order kept."""
    pack = cbor2.dumps([{-2: "n1:", -3: 1782900000, 0: "rain", 1: "mm", 2: 0.6}, {0: "x", 2: 1}])
    assert senml_json(pack) == (
        b'[{"bn":"n1:","bt":1782900000,"n":"rain","u":"mm","v":0.6},{"n":"x","v":1}]'
    )


def test_each_encoding_holds_the_same_readings() -> None:
    """The JSON baseline and the CBOR pack carry the same records; the COSE and transport
    framings only add bytes, in that order."""
    senml = import_firmware("senml")
    pack = senml.encode(NODE_ID, SAMPLE_TIME_S, uplink_size.SIX)
    records = json.loads(senml_json(pack))
    assert [r["n"] for r in records] == list(uplink_size.SIX)
    assert {r["n"]: r["v"] for r in records} == uplink_size.SIX
    for size in measure():
        assert size.senml_cbor < size.cose < size.coap < size.mqtt, size


def test_the_firmware_readme_quotes_the_table_as_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert uplink_size.main() == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 + len(measure())
    quoted = README.read_text()
    stale = [line for line in table if f"    {line}\n" not in quoted]
    assert not stale, f"firmware/README.md is stale; paste `python -m bench.uplink_size`: {stale}"
