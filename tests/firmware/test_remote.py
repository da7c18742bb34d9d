"""Config downlinks on the node (firmware/remote.py, docs/protocol.md "Config downlink"):
the protocol's vector applies; forged, foreign, malformed, out-of-range and old downlinks
change nothing; remote.json survives a restart and keeps its version as a floor; and main.py
takes a downlink from a CoAP 2.04 and from a retained MQTT message."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import cbor2
import pytest
from firmware_helpers import (
    FIRMWARE_DIR,
    KEY,
    NODE_ID,
    Datagram,
    FakeBroker,
    UdpPeer,
    coap_bytes,
    lookup_for,
    node_info,
    publish_topic_and_id,
    reports,
    uri_queries,
    write_config,
)

from backend.mqtt_auth import node_credentials
from gateway.downlink import CONFIG_AAD, sign_config
from gateway.uplink import decode_uplink, mac_structure

ACK, CHANGED = 2, 0x44

# docs/protocol.md "Test vector": config downlink, version 3
VECTOR = bytes.fromhex(
    "d18446a20104064103a104496e30613162326333645825a268736f696c5f63616c84190a5af94500190564"
    "f951d06a696e74657276616c5f73190258483c34222ead9f1b80"
)
VECTOR_SETTINGS = {"interval_s": 600, "soil_cal": [2650, 5.0, 1380, 46.5]}


def sign_raw(
    payload: bytes,
    version: int = 2,
    *,
    key: bytes = KEY,
    kid: bytes = NODE_ID.encode(),
    alg: int = 4,
    aad: bytes = CONFIG_AAD,
) -> bytes:
    """A COSE_Mac0 downlink built field by field (to break one field at a time)."""
    protected = cbor2.dumps({1: alg, 6: version.to_bytes(max(1, (version.bit_length() + 7) // 8))})
    tag = hmac.new(key, mac_structure(protected, payload, aad), hashlib.sha256).digest()[:8]
    return cbor2.dumps(cbor2.CBORTag(17, [protected, {4: kid}, payload, tag]))


def flip(message: bytes, index: int) -> bytes:
    out = bytearray(message)
    out[index] ^= 0x01
    return bytes(out)


# load_config, then each message as the node takes it: remote.take keeps it, and the next
# boot (load_config) puts it in force or rejects it. Prints, per message: None (ignored), the
# reason it was rejected, or [version, interval_s, soil_cal, duty] in force after the boot.
# Same script on CPython and MicroPython.
APPLY_SCRIPT = """
import sys, json
import config
settings = config.load_config(sys.argv[1])
out = {"boot": [settings["config_version"], settings["interval_s"]], "results": []}
with open(sys.argv[2]) as f:
    messages = json.load(f)
for text in messages:
    import remote
    result = remote.take(settings, bytes.fromhex(text))
    del sys.modules["remote"]
    if result is not None and result.startswith("pending:"):
        settings = config.load_config(sys.argv[1])  # the restart
        result = settings["config_result"]
    if result is not None and result.startswith("applied:"):
        result = [settings["config_version"], settings["interval_s"], settings["soil_cal"],
                  list(settings["duty"])]
    elif result is not None:
        result = result[len("rejected:"):]
    out["results"].append(result)
out["running"] = [settings["config_version"], settings["interval_s"], settings["soil_cal"]]
print(json.dumps(out))
"""


@pytest.fixture(params=["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
def apply_run(request, tmp_path: Path):
    """apply_run(config, [messages]) -> (output dict, stderr), on either interpreter."""

    def run(config: Path, messages: list[bytes]) -> tuple[dict, str]:
        # in a file: the unix port dies on an argument longer than 255 bytes (a qstr)
        listed = tmp_path / "messages.json"
        listed.write_text(json.dumps([m.hex() for m in messages]))
        args = (str(config), str(listed))
        if request.param == "micropython":
            # from source: the compiler needs more than 64 kB (main.py below runs .mpy at 64k)
            proc = request.getfixturevalue("mp").run(APPLY_SCRIPT, heap="256k", args=args)
        else:
            script = tmp_path / "apply.py"
            prologue = f"import sys\nsys.path.insert(0, {str(FIRMWARE_DIR)!r})\n"
            script.write_text(prologue + APPLY_SCRIPT)
            proc = subprocess.run(
                [sys.executable, str(script), *args],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=FIRMWARE_DIR,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1]), proc.stderr

    return run


def remote_json(tmp_path: Path) -> dict | None:
    path = tmp_path / "state" / "remote.json"
    return json.loads(path.read_text()) if path.exists() else None


def base_config(tmp_path: Path, **change: object) -> Path:
    (tmp_path / "state").mkdir(exist_ok=True)
    return write_config(tmp_path, **{"interval_s": 900, **change})


def test_the_protocol_vector_applies_and_survives_a_restart(apply_run, tmp_path: Path) -> None:
    assert sign_config(KEY, NODE_ID, 3, VECTOR_SETTINGS) == VECTOR  # the reference signer
    config = base_config(tmp_path)
    out, _ = apply_run(config, [VECTOR, VECTOR])
    assert out["boot"] == [0, 900]
    # interval 600 s: the duty cycle's defaults follow it (fast 200, low 1200, critical 2400)
    duty = [200.0, 1200, 2400, 60, 3600, 3.5, 3.3, 25.0, 2.0, -0.15, 0.03]
    assert out["results"] == [[3, 600, [2650, 5.0, 1380, 46.5], duty], None]  # then ignored
    assert remote_json(tmp_path) == {"version": 3, "settings": VECTOR_SETTINGS, "seen": 3}
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["remote.json"]

    again, stderr = apply_run(config, [VECTOR])  # restart: load_config lays remote.json over
    assert again["boot"] == [3, 600]
    assert again["running"] == [3, 600, [2650, 5.0, 1380, 46.5]]
    assert again["results"] == [None] and stderr == ""


def rejections() -> list[tuple[str, bytes, str | None]]:
    """(label, downlink, expected result) for a node running version 1: each at a newer
    version than the one before, since a downlink rejected at boot becomes the floor."""
    versions = iter(range(2, 100))

    def signed(settings: dict[str, object], key: bytes = KEY, node: str = NODE_ID) -> bytes:
        return sign_config(key, node, next(versions), settings)

    def raw(payload: bytes, **fields: object) -> bytes:
        return sign_raw(payload, next(versions), **fields)  # type: ignore[arg-type]

    payload = cbor2.dumps({"interval_s": 300}, canonical=True)
    good = signed({"interval_s": 300})
    return [
        ("wrong key", signed({"interval_s": 300}, key=bytes(32)), "mac"),
        ("tag bit", flip(good, len(good) - 1), "mac"),
        ("first tag byte", flip(good, len(good) - 8), "mac"),
        ("payload bit", flip(good, len(good) - 10), "mac"),
        ("uplink AAD", raw(payload, aad=b""), "mac"),
        (
            "short tag",
            cbor2.dumps(cbor2.CBORTag(17, [*cbor2.loads(good).value[:3], b"1234567"])),
            "mac",
        ),
        ("other node", signed({"interval_s": 300}, node="n0a1b2c3e"), "kid"),
        ("alg 5", raw(payload, alg=5), "alg"),
        ("unknown key", signed({"gateway": "coap://evil"}), "key:gateway"),
        ("key", signed({"key": "00" * 32}), "key:key"),
        ("fast > interval", signed({"interval_fast_s": 1000}), "key:interval_fast_s"),
        ("soil_cal 3", signed({"soil_cal": [1, 2, 3]}), "key:soil_cal"),
        ("soil_cal flat", signed({"soil_cal": [9, 1, 9, 2]}), "key:soil_cal"),
        ("text", signed({"interval_s": "600"}), "key:interval_s"),
        ("negative", signed({"level_mount_m": -1}), "key:level_mount_m"),
        ("infinite", signed({"interval_max_s": float("inf")}), "key:interval_max_s"),
        ("not a map", raw(cbor2.dumps([1, 2])), "format"),
        ("int key", raw(cbor2.dumps({1: 2})), "format"),
        ("truncated", good[:-3], "format"),
        ("half", good[: len(good) // 2], "format"),
        ("empty", b"", "format"),
        ("no tag", cbor2.dumps(cbor2.loads(good).value), "format"),
        ("old", sign_config(KEY, NODE_ID, 1, {"interval_s": 1200}), None),
        ("older", sign_raw(payload, version=0), None),
    ]


def test_bad_and_old_downlinks_change_nothing(apply_run, tmp_path: Path) -> None:
    config = base_config(tmp_path)
    first = sign_config(KEY, NODE_ID, 1, {"interval_s": 450, "soil_cal": [2500, 4, 1300, 44]})
    cases = rejections()
    out, _ = apply_run(config, [first] + [message for _, message, _ in cases])
    assert out["results"][0][:3] == [1, 450, [2500, 4, 1300, 44]]
    got = dict(zip([label for label, _, _ in cases], out["results"][1:], strict=True))
    assert got == {label: expected for label, _, expected in cases}
    assert out["running"] == [1, 450, [2500, 4, 1300, 44]]
    state = remote_json(tmp_path)
    assert state is not None
    assert (state["version"], state["settings"]) == (
        1,
        {"interval_s": 450, "soil_cal": [2500, 4, 1300, 44]},
    )
    # the floor: the newest version rejected at boot ("negative", 13); a MAC, kid, alg or
    # format failure is refused before it is kept, so it moves nothing
    assert state["seen"] == 13


def test_the_whole_remote_config_replaces_the_last_one(apply_run, tmp_path: Path) -> None:
    # a downlink is the whole remote config: keys it leaves out fall back to the file
    config = base_config(tmp_path, soil_cal=[2700, 6.0, 1500, 40.0])
    out, _ = apply_run(
        config,
        [
            sign_config(KEY, NODE_ID, 1, {"soil_cal": [2500, 4, 1300, 44], "interval_s": 450}),
            sign_config(KEY, NODE_ID, 7, {"interval_s": 1800, "interval_fast_s": 600}),
        ],
    )
    assert out["results"][1][:3] == [7, 1800, [2700, 6.0, 1500, 40.0]]
    assert out["results"][1][3][0] == 600
    assert remote_json(tmp_path) == {
        "version": 7,
        "settings": {"interval_s": 1800, "interval_fast_s": 600},
        "seen": 7,
    }


def test_a_remote_config_the_file_rejects_keeps_its_version_as_floor(
    apply_run, tmp_path: Path
) -> None:
    config = base_config(tmp_path)
    # applied against interval_s 900; then the node is reflashed with interval_s 300
    remote = {"version": 5, "settings": {"interval_fast_s": 600}}
    (tmp_path / "state" / "remote.json").write_text(json.dumps(remote))
    out, _ = apply_run(config, [])
    assert out["boot"] == [5, 900]
    config = base_config(tmp_path, interval_s=300)
    out, stderr = apply_run(
        config,
        [
            sign_config(KEY, NODE_ID, 4, {"interval_s": 60}),  # older than the floor
            sign_config(KEY, NODE_ID, 5, {"interval_s": 60}),
            sign_config(KEY, NODE_ID, 6, {"interval_s": 120}),
        ],
    )
    assert out["boot"] == [0, 300]  # the file's settings alone; version 5 stays the floor
    assert len(stderr.splitlines()) == 1 and "'interval_fast_s'" in stderr, stderr
    assert out["results"][:2] == [None, None]
    assert out["results"][2][:2] == [6, 120]
    assert remote_json(tmp_path) == {"version": 6, "settings": {"interval_s": 120}, "seen": 6}


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps([1]), json.dumps({"settings": {}}), json.dumps({"version": True})],
)
def test_an_unreadable_remote_json_is_ignored(apply_run, tmp_path: Path, content: str) -> None:
    config = base_config(tmp_path)
    (tmp_path / "state" / "remote.json").write_text(content)
    out, stderr = apply_run(config, [sign_config(KEY, NODE_ID, 1, {"interval_s": 60})])
    assert out["boot"] == [0, 900]
    # said at each boot until the downlink's boot writes a good one
    assert stderr and all("remote.json ignored" in line for line in stderr.splitlines())
    assert out["results"][0][:2] == [1, 60]
    assert remote_json(tmp_path) == {"version": 1, "settings": {"interval_s": 60}, "seen": 1}


def test_unknown_keys_in_remote_json_keep_the_version(apply_run, tmp_path: Path) -> None:
    config = base_config(tmp_path)
    remote = {"version": 4, "settings": {"gateway": "coap://elsewhere"}}
    (tmp_path / "state" / "remote.json").write_text(json.dumps(remote))
    out, stderr = apply_run(config, [])
    assert out["boot"] == [0, 900] and "not used" in stderr
    late = apply_run(config, [sign_config(KEY, NODE_ID, 4, {"interval_s": 60})])[0]
    assert late["results"] == [None]  # version 4 was handled: the floor


# --- main.py end to end -----------------------------------------------------------

NEW_INTERVAL_S = 0.4
# the heap every other end-to-end firmware test runs in: the downlink is verified and kept
# next to the running node, and validated only after the (soft) restart, on an empty heap
HEAP = "72k"  # with FieldHAL's simulated field, as firmware_helpers.HEAP


def expected_next_s(report: dict, interval_s: float) -> float:
    """next_s for a report by its `why` (duty-cycle defaults scale with interval_s; the fast
    one is floored at 1 s, or at interval_s when that is shorter)."""
    fast_s = max(interval_s / 3, min(interval_s, 1.0))
    return interval_s if report["why"] == "normal" else fast_s


@pytest.mark.micropython
def test_main_applies_a_coap_downlink_from_a_2_04(mp, udp_peer, tmp_path: Path) -> None:
    downlink = sign_config(KEY, NODE_ID, 4, {"interval_s": NEW_INTERVAL_S})
    queries: list[list[str]] = []

    def gateway(peer: UdpPeer, d: Datagram) -> None:
        decode_uplink(d.payload, lookup_for(node_info()), time.time())  # a valid uplink
        queries.append(uri_queries(d.raw))
        running = int(queries[-1][0][2:])
        body = downlink if running < 4 else b""  # as gateway/downlink.py: only when newer
        peer.reply(d, coap_bytes(ACK, CHANGED, d.mid, d.token, body))

    peer = udp_peer(gateway)
    config = write_config(
        tmp_path, gateway=f"coap://127.0.0.1:{peer.port}", cycles=3, interval_s=0.1
    )
    proc = mp.main(config, heap=HEAP)
    assert proc.returncode == 0, proc.stderr
    first, second, third = reports(proc.stdout)
    assert queries == [["c=0"], ["c=4"], ["c=4"]]
    # kept in the first cycle, in force from the restart on
    assert first["config"] == 0 and first["config_result"] == "pending:4"
    assert first["next_s"] == pytest.approx(expected_next_s(first, 0.1))
    assert second["config"] == 4 and second["config_result"] == "applied:4"
    assert third["config"] == 4 and "config_result" not in third
    for report in (second, third):
        assert report["next_s"] == pytest.approx(expected_next_s(report, NEW_INTERVAL_S))
    assert [r["ctr"] for r in (first, second, third)] == [1, 2, 3]  # no counter reused
    state = remote_json(tmp_path)
    assert state == {"version": 4, "settings": {"interval_s": NEW_INTERVAL_S}, "seen": 4}

    again = mp.main(config, heap=HEAP)  # a new process: runs version 4 from the first cycle
    assert again.returncode == 0, again.stderr
    assert {r["config"] for r in reports(again.stdout)} == {4}
    assert queries[3:] == [["c=4"]] * 3


@pytest.mark.micropython
def test_main_keeps_its_config_when_the_downlink_is_forged(mp, udp_peer, tmp_path: Path) -> None:
    forged = sign_config(bytes(32), NODE_ID, 4, {"interval_s": NEW_INTERVAL_S})

    def gateway(peer: UdpPeer, d: Datagram) -> None:
        peer.reply(d, coap_bytes(ACK, CHANGED, d.mid, d.token, forged))

    peer = udp_peer(gateway)
    config = write_config(tmp_path, gateway=f"coap://127.0.0.1:{peer.port}", cycles=2)
    proc = mp.main(config, heap=HEAP)
    assert proc.returncode == 0, proc.stderr
    for report in reports(proc.stdout):
        assert report["config"] == 0 and report["config_result"] == "rejected:mac"
        assert report["next_s"] == pytest.approx(expected_next_s(report, 0.1))
    assert remote_json(tmp_path) is None


@pytest.mark.micropython
@pytest.mark.services
def test_main_applies_the_retained_mqtt_config(mp, mosquitto, tmp_path: Path) -> None:
    import paho.mqtt.client as paho

    node = "n-remote-mqtt"  # its own topics: the retained config must reach no other test
    topic = f"ruong/{node}/config"
    mosquitto.allow([node_info(node)])
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    # the gateway's account: the one allowed to publish a node's retained config
    client.username_pw_set(mosquitto.gateway_user, mosquitto.gateway_password)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        downlink = sign_config(KEY, node, 2, {"interval_s": NEW_INTERVAL_S})
        client.publish(topic, downlink, qos=1, retain=True).wait_for_publish(5)
        config = write_config(
            tmp_path,
            node=node,
            transport="mqtt",
            gateway=mosquitto.url,
            cycles=3,
            **node_credentials(node_info(node)),
        )
        proc = mp.main(config, heap=HEAP)
        assert proc.returncode == 0, proc.stderr
        first, second, third = reports(proc.stdout)
        assert first["result"] == "puback" and first["config_result"] == "pending:2"
        assert second["config"] == 2 and second["config_result"] == "applied:2"
        assert third["config"] == 2 and "config_result" not in third
        for report in (second, third):
            assert report["next_s"] == pytest.approx(expected_next_s(report, NEW_INTERVAL_S))
        state = remote_json(tmp_path)
        assert state == {"version": 2, "settings": {"interval_s": NEW_INTERVAL_S}, "seen": 2}
        # restart: the broker redelivers version 2, which the node already runs (silently)
        again = reports(mp.main(config, heap=HEAP).stdout)
        assert [r["config"] for r in again] == [2, 2, 2]
        assert all("config_result" not in r for r in again)
    finally:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clear it
        client.loop_stop()
        client.disconnect()


MQTT_SCRIPT = """
import mqtt
c = mqtt.MQTTClient(%r, '127.0.0.1', %d, ack_timeout_s=2, downlinks=True)
print(c.send(b'uplink'), c.downlink)
c.close()
"""


@pytest.mark.micropython
def test_mqtt_client_takes_config_publishes_while_waiting(mp) -> None:
    """A fake broker: the config arrives QoS 1 before the SUBACK, an empty (cleared) one and
    one on another topic while the uplink waits for its PUBACK; every QoS 1 one is PUBACKed."""

    def publish(topic: bytes, payload: bytes, packet_id: int) -> bytes:
        body = len(topic).to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big") + payload
        return bytes((0x33, len(body))) + body

    def respond(conn: socket.socket, first: int, body: bytes) -> None:
        if first == 0x82:
            conn.sendall(publish(b"ruong/n0a1b2c3d/config", b"config-v1", 7))
            conn.sendall(b"\x90\x03" + body[:2] + b"\x01")
        elif first & 0xF0 == 0x30:
            topic, packet_id = publish_topic_and_id(body)
            if topic.endswith(b"/up"):
                conn.sendall(publish(b"ruong/n0a1b2c3d/config", b"", 8))
                conn.sendall(publish(b"ruong/other/config", b"not ours", 9))
            conn.sendall(b"\x40\x02" + packet_id)

    broker = FakeBroker(respond)
    out = mp.run(MQTT_SCRIPT % (NODE_ID, broker.port)).stdout.split()
    broker.close()
    seen = broker.seen
    assert out == ["puback", "b'config-v1'"]
    kinds = [first for first, _ in seen]
    assert kinds[:3] == [0x10, 0x32 | 0x01, 0x82]  # CONNECT, "online" retained, SUBSCRIBE
    assert seen[2][1][2:] == b"\x00\x16ruong/n0a1b2c3d/config\x01"  # QoS 1
    pubacks = sorted(body for first, body in seen if first == 0x40)
    assert pubacks == [b"\x00\x07", b"\x00\x08", b"\x00\x09"]
