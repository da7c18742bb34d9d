"""Config downlink (docs/protocol.md): registry versions, `ruong node config`, and the real
gateway serving it over CoAP (libcoap's client) and retained MQTT (real Mosquitto)."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import subprocess
import time
from pathlib import Path

import cbor2
import pytest
from prometheus_client import CollectorRegistry

from backend.mqtt_auth import node_password
from backend.registry import NodeInfo, Registry, RegistryError
from gateway.downlink import CONFIG_AAD, ConfigDownlinks, kid_of, sign_config, version_hint
from gateway.uplink import UplinkRejected, decode_uplink, mac_structure
from ruong.node_config import NodeConfigError, changed, validate
from ruong.services import MosquittoServer, require_binary
from ruong.sim import start_node
from tests.conftest import GatewayProcess, MqttTestClient, wait_until, write_config
from tests.test_cli import ruong
from tests.uplinks import uplink


def open_downlink(message: bytes, key: bytes) -> tuple[str, int, dict[str, object]]:
    """(kid, version, settings) of a downlink, its MAC checked here with hmac and cbor2."""
    outer = cbor2.loads(message)
    assert outer.tag == 17
    protected, unprotected, payload, tag = outer.value
    expected = hmac.new(key, mac_structure(protected, payload, CONFIG_AAD), hashlib.sha256)
    assert tag == expected.digest()[:8]
    header = cbor2.loads(protected)
    assert header[1] == 4
    return unprotected[4].decode(), int.from_bytes(header[6], "big"), cbor2.loads(payload)


# -- pure --------------------------------------------------------------------------------------
def test_signed_config_round_trips_and_is_no_uplink() -> None:
    key = bytes(range(32))
    message = sign_config(key, "n0a1b2c3d", 300, {"interval_s": 600, "soil_vwc_alert": 22.5})
    assert open_downlink(message, key) == (
        "n0a1b2c3d",
        300,
        {"interval_s": 600, "soil_vwc_alert": 22.5},
    )
    assert kid_of(message) == "n0a1b2c3d"
    # the external AAD keeps a downlink from ever verifying as an uplink of the same key
    node_info = Registry("sqlite://").provision("farm", "field", "coap")
    node_message = sign_config(node_info.key, node_info.node, 1, {"interval_s": 600})
    with pytest.raises(UplinkRejected) as refused:
        decode_uplink(node_message, lambda n: node_info, now_s=time.time())
    assert refused.value.reason == "bad_mac"
    with pytest.raises(ValueError, match="start at 1"):
        sign_config(key, "n0a1b2c3d", 0, {})


def test_kid_of_reads_the_kid_where_the_uplink_decoder_does() -> None:
    """RFC 9052 lets the kid sit in either header; an uplink with it only in the protected one
    is accepted, so the CoAP server must find its node there too (not fail after storing it)."""
    info = Registry("sqlite://").provision("farm", "field", "coap")
    payload = cbor2.dumps([{-2: info.node + ":", -3: int(time.time()), 0: "rain", 1: "mm", 2: 0.2}])
    protected = cbor2.dumps({1: 4, 6: b"\x07", 4: info.node.encode()})
    structure = cbor2.dumps(["MAC0", protected, b"", payload])
    tag = hmac.new(info.key, structure, hashlib.sha256).digest()[:8]
    message = cbor2.dumps(cbor2.CBORTag(17, [protected, {}, payload, tag]))
    assert decode_uplink(message, lambda n: info, now_s=time.time()).counter == 7
    assert kid_of(message) == info.node
    assert kid_of(uplink(info.key, info.node, 8, time.time(), {"rain": 0.2})) == info.node


def test_downlinks_sign_each_version_once_and_follow_the_registry(tmp_path: Path) -> None:
    with Registry(f"sqlite:///{tmp_path}/reg.db") as registry:
        info = registry.provision("farm", "f1", "coap")
        downlinks = ConfigDownlinks(registry, CollectorRegistry())
        assert not downlinks.reload() and downlinks.signed == {}
        registry.set_config(info.node, {"interval_s": 600})
        assert downlinks.reload()
        first = downlinks.signed[info.node]
        assert open_downlink(first.message, info.key)[1:] == (1, {"interval_s": 600})
        assert not downlinks.reload() and downlinks.signed[info.node] is first  # not re-signed
        registry.set_config(info.node, {"interval_s": 300})
        assert downlinks.reload()
        assert open_downlink(downlinks.signed[info.node].message, info.key)[1:] == (
            2,
            {"interval_s": 300},
        )
        assert downlinks.for_node(info.node, 1) == downlinks.signed[info.node].message
        assert downlinks.for_node(info.node, 2) is None
        registry.revoke(info.node)
        assert downlinks.reload() and downlinks.signed == {}


def test_version_hint() -> None:
    assert version_hint(("c=0",)) == 0
    assert version_hint(("x=1", "c=12")) == 12
    assert version_hint(()) is None
    assert version_hint(("c=-1",)) is None and version_hint(("c=",)) is None


def test_validation_is_the_firmwares() -> None:
    validate({"interval_s": 600, "soil_cal": [2600, 5.0, 1400, 45.0]})
    with pytest.raises(NodeConfigError, match="'key' cannot be set remotely"):
        validate({"key": "00" * 32})
    with pytest.raises(NodeConfigError, match="interval_fast_s"):
        validate({"interval_s": 600, "interval_fast_s": 900})  # faster must not be slower
    with pytest.raises(NodeConfigError, match="soil_cal"):
        validate({"soil_cal": [1, 2, 3]})
    with pytest.raises(NodeConfigError, match="interval_s"):
        validate({"interval_s": True})
    assert changed({"interval_s": 600}, ["soil_vwc_alert=22"], ["interval_s"]) == {
        "soil_vwc_alert": 22
    }
    with pytest.raises(NodeConfigError, match="not set remotely"):
        changed({}, [], ["interval_s"])
    with pytest.raises(NodeConfigError, match="KEY=VALUE"):
        changed({}, ["interval_s"], [])


def test_registry_versions(tmp_path: Path) -> None:
    with Registry(f"sqlite:///{tmp_path}/reg.db") as registry:
        a = registry.provision("farm", "f1", "coap")
        b = registry.provision("farm", "f2", "mqtt")
        assert registry.config(a.node) is None and registry.configs() == []
        assert registry.set_config(a.node, {"interval_s": 600}).version == 1
        assert registry.set_config(a.node, {"interval_s": 600}).version == 1  # nothing new
        second = registry.set_config(a.node, {"interval_s": 300})
        assert (second.version, second.settings) == (2, {"interval_s": 300})
        registry.set_config(b.node, {})
        newest = {c.node: (c.version, c.settings) for c in registry.configs()}
        assert newest == {a.node: (2, {"interval_s": 300}), b.node: (1, {})}
        registry.revoke(b.node)
        with pytest.raises(RegistryError, match="revoked"):
            registry.set_config(b.node, {"interval_s": 60})
        with pytest.raises(RegistryError, match="unknown node"):
            registry.set_config("n00000000", {})


def test_cli_node_config(tmp_path: Path) -> None:
    config = str(write_config(tmp_path / "ruong.toml", registry_url=f"sqlite:///{tmp_path}/r.db"))
    with Registry(f"sqlite:///{tmp_path}/r.db") as registry:
        node = registry.provision("test-farm", "f1", "coap").node
    shown = ruong("--config", config, "node", "config", node, cwd=tmp_path)
    assert shown.returncode == 0 and "no remote config" in shown.stdout
    done = ruong(
        "--config", config, "node", "config", node, "--set", "interval_s=600", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "config version 1" in done.stdout and "interval_s = 600" in done.stdout
    refused = ruong(
        "--config", config, "node", "config", node, "--set", "interval_fast_s=900", cwd=tmp_path
    )
    assert refused.returncode == 2 and "interval_fast_s" in refused.stderr
    assert "Traceback" not in refused.stderr
    uncalibrated = ruong("--config", config, "node", "config", node, "--calibration", cwd=tmp_path)
    assert uncalibrated.returncode == 2 and "never calibrated" in uncalibrated.stderr
    with Registry(f"sqlite:///{tmp_path}/r.db") as registry:
        newest = registry.config(node)
        assert newest is not None and (newest.version, newest.settings) == (1, {"interval_s": 600})


# -- the real gateway ------------------------------------------------------------------------
def coap_post_reading(gateway: GatewayProcess, body: Path, query: str, out: Path) -> str:
    """POST `body` to /r`query` with coap-client-notls; the response payload goes to `out`."""
    out.unlink(missing_ok=True)
    argv = [
        require_binary("coap-client-notls"),
        "-m",
        "post",
        "-t",
        "17",
        "-B",
        "10",
        "-f",
        str(body),
        "-o",
        str(out),
        f"coap://127.0.0.1:{gateway.coap_port}/r{query}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    return done.stdout + done.stderr


@pytest.mark.services
def test_coap_uplink_answer_carries_a_newer_config(gateway: GatewayProcess, tmp_path: Path) -> None:
    with gateway.registry() as registry:
        node = registry.provision("test-farm", "ruong-1", "coap")
        registry.set_config(node.node, {"interval_s": 600})
    gateway.process.wait_for_log("config downlinks: 1 nodes", 15)
    body = tmp_path / "up.bin"
    out = tmp_path / "answer.bin"
    t0 = round(time.time()) - 60

    body.write_bytes(uplink(node.key, node.node, 1, t0, {"soil_vwc": 30.0}))
    coap_post_reading(gateway, body, "?c=0", out)
    assert open_downlink(out.read_bytes(), node.key) == (node.node, 1, {"interval_s": 600})

    body.write_bytes(uplink(node.key, node.node, 2, t0 + 1, {"soil_vwc": 30.0}))
    coap_post_reading(gateway, body, "?c=1", out)  # it runs version 1: nothing to send
    assert not out.exists() or out.read_bytes() == b""
    body.write_bytes(uplink(node.key, node.node, 3, t0 + 2, {"soil_vwc": 30.0}))
    coap_post_reading(gateway, body, "", out)  # firmware without configs: nothing either
    assert not out.exists() or out.read_bytes() == b""

    with gateway.registry() as registry:
        registry.set_config(node.node, {"interval_s": 300, "soil_vwc_alert": 20})
    gateway.process.wait_for_log("config downlinks", 15, occurrences=2)
    body.write_bytes(uplink(node.key, node.node, 4, t0 + 3, {"soil_vwc": 30.0}))
    coap_post_reading(gateway, body, "?c=1", out)
    assert open_downlink(out.read_bytes(), node.key)[1:] == (
        2,
        {"interval_s": 300, "soil_vwc_alert": 20},
    )
    metrics = gateway.metrics_text()
    assert 'ruong_config_downlinks_total{transport="coap"} 2.0' in metrics


def retained(broker: MosquittoServer, node: NodeInfo, wait_s: float = 2.0) -> bytes | None:
    """The retained config of `node` (None when there is none), as the node sees it when it
    subscribes: logged in as the node, the one account that may read its config."""
    topic = f"ruong/{node.node}/config"
    client = MqttTestClient(broker.port, node.node, node_password(node.key))
    try:
        assert client.subscribe(topic) == [1]
        payload, _qos, retain = client.next(topic, wait_s)
        return payload if retain else None
    except queue.Empty:
        return None
    finally:
        client.close()


@pytest.mark.services
def test_mqtt_config_is_retained_updated_and_cleared_on_revoke(
    gateway: GatewayProcess, mosquitto: MosquittoServer
) -> None:
    with gateway.registry() as registry:
        node = registry.provision("test-farm", "ruong-2", "mqtt")
        registry.set_config(node.node, {"interval_s": 600})
    mosquitto.allow([node])
    wait_until(lambda: retained(mosquitto, node, 0.5) is not None, 20, "no retained config")
    assert open_downlink(retained(mosquitto, node) or b"", node.key)[1] == 1

    with gateway.registry() as registry:
        registry.set_config(node.node, {"interval_s": 300})

    def version() -> int:
        message = retained(mosquitto, node, 0.5)
        return open_downlink(message, node.key)[1] if message else 0

    wait_until(lambda: version() == 2, 20, "retained config not updated to version 2")

    with gateway.registry() as registry:
        registry.revoke(node.node)
    # the broker still knows the node here (no `ruong mqtt sync` yet), so it can look
    wait_until(lambda: retained(mosquitto, node, 0.5) is None, 20, "revoked config still there")
    assert 'ruong_config_downlinks_total{transport="mqtt"} 2.0' in gateway.metrics_text()


@pytest.mark.services
@pytest.mark.micropython
@pytest.mark.parametrize("transport", ["coap", "mqtt"])
def test_a_real_node_runs_the_config_set_with_the_cli(
    gateway: GatewayProcess, mosquitto: MosquittoServer, tmp_path: Path, transport: str
) -> None:
    """`ruong node config` -> registry -> gateway signs -> the firmware on MicroPython keeps
    it, restarts, and runs it: its duty cycle follows the new interval."""
    with gateway.registry() as registry:
        info = registry.provision("test-farm", f"ruong-{transport}", transport)
    mosquitto.allow([info])
    done = ruong(
        "--config", str(gateway.config), "node", "config", info.node,
        "--set", "interval_s=0.6", "--set", "interval_min_s=0.1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    gateway.process.wait_for_log("config downlinks: 1 nodes", 15)
    if transport == "mqtt":
        wait_until(
            lambda: f"config v1 retained on ruong/{info.node}/config" in gateway.log(),
            15,
            "config not retained",
        )
    node = start_node(info, gateway.settings, tmp_path / "nodes", cycles=3, interval_s=0.3, seed=1)
    out, err = node.proc.communicate(timeout=120)
    assert node.proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["config"] for r in lines] == [0, 1, 1]
    assert [r.get("config_result") for r in lines] == ["pending:1", "applied:1", None]
    normal = [r for r in lines[1:] if r["why"] == "normal"]
    assert all(r["next_s"] == pytest.approx(0.6) for r in normal)
    assert f'ruong_config_downlinks_total{{transport="{transport}"}} 1.0' in gateway.metrics_text()
