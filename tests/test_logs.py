"""Structured logs: `[log] format = "json"` gives one parseable JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pytest

from backend.config import ConfigError, load_settings
from backend.logs import JsonFormatter
from ruong.services import InfluxServer, MosquittoServer
from tests.conftest import start_gateway, wait_until, write_config
from tests.test_gateway_coap import coap_post
from tests.uplinks import uplink


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("ruong.gateway", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_line_has_the_message_and_the_extra_fields() -> None:
    line = JsonFormatter().format(
        record("uplink rejected reason=%s", "bad_mac", reason="bad_mac", node="n0a1b2c3d")
    )
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["msg"] == "uplink rejected reason=bad_mac"
    assert (parsed["level"], parsed["logger"]) == ("WARNING", "ruong.gateway")
    assert (parsed["reason"], parsed["node"]) == ("bad_mac", "n0a1b2c3d")
    assert parsed["ts"].endswith("+00:00") and "T" in parsed["ts"]
    assert "args" not in parsed and "levelno" not in parsed  # LogRecord internals stay out


def test_json_line_carries_the_traceback_and_vietnamese_text() -> None:
    try:
        raise RuntimeError("ổ đĩa đầy")
    except RuntimeError:
        rec = record("spool failed")
        rec.exc_info = sys.exc_info()
    parsed = json.loads(JsonFormatter().format(rec))
    assert "RuntimeError: ổ đĩa đầy" in parsed["exc"]


def test_log_format_is_validated(tmp_path: Path) -> None:
    good = write_config(tmp_path / "ok.toml", log_format="json")
    assert load_settings(good, env={}).log_format == "json"
    bad = write_config(tmp_path / "bad.toml", log_format="xml")
    with pytest.raises(ConfigError, match="log.format"):
        load_settings(bad, env={})
    assert load_settings(good, env={"RUONG_LOG_FORMAT": "text"}).log_format == "text"


@pytest.mark.services
def test_gateway_writes_json_lines(
    tmp_path: Path, influxdb: InfluxServer, mosquitto: MosquittoServer
) -> None:
    gateway = start_gateway(
        tmp_path / "gw", f"{influxdb.url}_logs", mosquitto.gateway_url, log_format="json"
    )
    try:
        with gateway.registry() as registry:
            node = registry.provision("test-farm", "ruong-1", "coap")
        forged = uplink(bytes(32), node.node, 1, round(time.time()) - 60, {"soil_vwc": 30.0})
        body = tmp_path / "forged.bin"
        body.write_bytes(forged)
        assert "4.01" in coap_post(gateway, body)
        wait_until(lambda: "bad_mac" in gateway.log(), 10, "rejection not logged")
    finally:
        gateway.process.stop()
    lines = [json.loads(line) for line in gateway.log().splitlines() if line.strip()]
    assert any(line["msg"].startswith("gateway ready") for line in lines)
    rejected = [line for line in lines if line.get("reason") == "bad_mac"]
    assert rejected and rejected[0]["level"] == "WARNING"
    assert rejected[0]["transport"] == "coap"
