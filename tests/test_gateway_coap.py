"""The gateway speaks real CoAP: libcoap's independent client against `ruong gateway`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.store import open_store
from ruong.services import require_binary
from tests.conftest import GatewayProcess, wait_until
from tests.uplinks import uplink

pytestmark = pytest.mark.services


def coap_post(gateway: GatewayProcess, payload_file: Path, fmt: str = "17") -> str:
    """POST a file with coap-client-notls (confirmable); return what it printed."""
    argv = [
        require_binary("coap-client-notls"),
        "-m",
        "post",
        "-t",
        fmt,
        "-B",
        "10",
        "-f",
        str(payload_file),
        f"coap://127.0.0.1:{gateway.coap_port}/r",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    return done.stdout + done.stderr


def test_malformed_then_valid_post(gateway: GatewayProcess, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x9f\xff\x00 not cbor at all")
    assert "4.00" in coap_post(gateway, garbage)
    assert "reason=malformed_cbor" in gateway.log()  # logged with its reason

    registry = gateway.registry()
    node = registry.provision("test-farm", "ruong-7", "coap")
    registry.close()
    now = time.time()
    good = tmp_path / "good.bin"
    good.write_bytes(uplink(node.key, node.node, 1, round(now) - 30, {"soil_vwc": 33.5}))
    out = coap_post(gateway, good)
    assert "4." not in out and "5." not in out, out
    gateway.process.check_alive()

    store = open_store(gateway.settings.store)
    # 2.04 means spooled; the writer stores it just after
    wait_until(
        lambda: store.rows("readings", {"node": node.node}, since_ms=0),
        10,
        "spooled uplink never reached InfluxDB",
    )
    rows = store.rows("readings", {"node": node.node}, since_ms=0)
    store.close()
    assert [(r.time_ms, r.fields) for r in rows] == [((round(now) - 30) * 1000, {"soil_vwc": 33.5})]
    assert rows[0].tags == {"farm": "test-farm", "field": "ruong-7", "node": node.node}


def test_wrong_key_is_401_and_wrong_format_is_415(gateway: GatewayProcess, tmp_path: Path) -> None:
    registry = gateway.registry()
    node = registry.provision("test-farm", "ruong-8", "coap")
    registry.close()
    forged = tmp_path / "forged.bin"
    forged.write_bytes(uplink(bytes(32), node.node, 1, time.time(), {"soil_vwc": 33.5}))
    assert "4.01" in coap_post(gateway, forged)
    assert "4.15" in coap_post(gateway, forged, fmt="50")  # application/json
    assert "reason=bad_mac" in gateway.log()


def test_discovery_lists_the_uplink_resource(gateway: GatewayProcess) -> None:
    argv = [
        require_binary("coap-client-notls"),
        "-m",
        "get",
        "-B",
        "10",
        f"coap://127.0.0.1:{gateway.coap_port}/.well-known/core",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert "</r>" in done.stdout


def test_retried_uplink_is_acknowledged_and_stored_once(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    registry = gateway.registry()
    node = registry.provision("test-farm", "ruong-9", "coap")
    registry.close()
    sample = tmp_path / "sample.bin"
    sample.write_bytes(uplink(node.key, node.node, 5, round(time.time()) - 5, {"rain": 0.4}))
    for _ in range(3):  # the node never saw the 2.04 and resends the very same bytes
        out = coap_post(gateway, sample)
        assert "4." not in out and "5." not in out, out
    assert gateway.log().count("uplink duplicate") == 2

    status = subprocess.run(
        [sys.executable, "-m", "ruong.cli", "--config", str(gateway.config), "gateway", "status"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert status.returncode == 0, status.stderr
    assert "ruong_uplinks_total{outcome=duplicate,transport=coap} 2" in status.stdout
    assert "ruong_uplinks_total{outcome=stored,transport=coap} 1" in status.stdout
