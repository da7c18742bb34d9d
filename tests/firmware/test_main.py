"""`micropython -X heapsize=HEAP firmware/main.py CONFIG` as `ruong sim` runs it: report lines,
persisted counters, and exit codes (0 all acknowledged, 3 some not, 2 bad config)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from firmware_helpers import (
    NODE_ID,
    Datagram,
    UdpPeer,
    coap_bytes,
    lookup_for,
    node_info,
    reports,
    write_config,
)

from backend.mqtt_auth import node_credentials
from backend.quantities import HEALTH, QUANTITIES
from gateway.uplink import decode_uplink

pytestmark = pytest.mark.micropython
ACK, CHANGED, UNAUTHORIZED = 2, 0x44, 0x81


def gateway_like(peer: UdpPeer, d: Datagram) -> None:
    """Answer like the gateway: 2.04 when the uplink decodes, else 4.01."""
    try:
        decode_uplink(d.payload, lookup_for(node_info()), time.time())
    except ValueError:
        peer.reply(d, coap_bytes(ACK, UNAUTHORIZED, d.mid, d.token))
        return
    peer.reply(d, coap_bytes(ACK, CHANGED, d.mid, d.token))


def test_three_cycles_all_acknowledged(mp, udp_peer, tmp_path: Path) -> None:
    peer = udp_peer(gateway_like)
    config = write_config(
        tmp_path, gateway=f"coap://127.0.0.1:{peer.port}", cycles=3, interval_s=0.3
    )
    started = time.time()
    proc = mp.main(config)
    assert proc.returncode == 0, proc.stderr
    lines = reports(proc.stdout)
    assert [r["ctr"] for r in lines] == [1, 2, 3]
    assert {r["result"] for r in lines} == {"2.04"}
    for report, datagram in zip(lines, peer.received, strict=True):
        assert report["node"] == NODE_ID
        assert started - 1 <= report["t"] <= time.time() + 1
        assert set(report["values"]) == (set(QUANTITIES) - HEALTH)
        uplink = decode_uplink(datagram.payload, lookup_for(node_info()), time.time())
        assert uplink.counter == report["ctr"]
        assert uplink.samples[report["t"] * 1000] == pytest.approx(report["values"])
    # the sleeps are what the duty cycle chose: 0.3 s, since the fast interval (0.1 s in rain
    # or near a threshold) is floored at 1 s or, when shorter, at the interval itself
    assert {r["why"] for r in lines} <= {"normal", "rain", "soil_vwc", "water_level"}
    assert [r["next_s"] for r in lines] == pytest.approx([0.3] * 3)
    assert peer.times[2] - peer.times[0] >= lines[0]["next_s"] + lines[1]["next_s"] - 0.01
    assert (tmp_path / "state" / "counter").read_text().strip() == "3"


def test_counter_survives_a_restart(mp, udp_peer, tmp_path: Path) -> None:
    peer = udp_peer(gateway_like)
    config = write_config(tmp_path, gateway=f"coap://127.0.0.1:{peer.port}")
    assert mp.main(config).returncode == 0
    second = mp.main(config)
    assert [r["ctr"] for r in reports(second.stdout)] == [3, 4]


def test_counter_is_persisted_before_sending(mp, tmp_path: Path) -> None:
    # no gateway at all: nothing is acknowledged, yet every counter value is used up
    import socket

    from ruong.services import free_port

    config = write_config(
        tmp_path,
        gateway=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        ack_timeout_s=0.05,
        max_retransmit=1,
    )
    proc = mp.main(config)
    assert proc.returncode == 3
    assert [r["result"] for r in reports(proc.stdout)] == ["timeout", "timeout"]
    assert (tmp_path / "state" / "counter").read_text().strip() == "2"


def test_exit_3_when_an_uplink_is_refused(mp, udp_peer, tmp_path: Path) -> None:
    def refuse_second(peer: UdpPeer, d: Datagram) -> None:
        code = UNAUTHORIZED if len(peer.received) == 2 else CHANGED
        peer.reply(d, coap_bytes(ACK, code, d.mid, d.token))

    peer = udp_peer(refuse_second)
    config = write_config(tmp_path, gateway=f"coap://127.0.0.1:{peer.port}", cycles=3)
    proc = mp.main(config)
    assert proc.returncode == 3
    assert [r["result"] for r in reports(proc.stdout)] == ["2.04", "4.01", "2.04"]


@pytest.mark.services
def test_mqtt_run_against_mosquitto(mp, mosquitto, tmp_path: Path) -> None:
    mosquitto.allow([node_info()])
    config = write_config(
        tmp_path, transport="mqtt", gateway=mosquitto.url, cycles=2, **node_credentials(node_info())
    )
    proc = mp.main(config)
    assert proc.returncode == 0, proc.stderr
    assert [(r["ctr"], r["result"]) for r in reports(proc.stdout)] == [(1, "puback"), (2, "puback")]


@pytest.mark.parametrize(
    ("change", "bad_key"),
    [
        ({"key": "abcd"}, "key"),
        ({"key": "zz" * 32}, "key"),
        ({"node": "Node_1"}, "node"),
        ({"transport": "lora"}, "transport"),
        ({"gateway": "mqtt://127.0.0.1:1883"}, "gateway"),  # transport is coap
        ({"gateway": "coap://127.0.0.1:notaport"}, "gateway"),
        ({"interval_s": -1}, "interval_s"),
        ({"cycles": 1.5}, "cycles"),
        ({"cycles": None}, "cycles"),
        ({"state_dir": ""}, "state_dir"),
        ({"field": None}, "field"),
    ],
)
def test_bad_config_exits_2_naming_the_key(mp, tmp_path: Path, change: dict, bad_key: str) -> None:
    proc = mp.main(write_config(tmp_path, **change))
    assert proc.returncode == 2
    assert f"'{bad_key}'" in proc.stderr
    assert proc.stdout == ""


def test_unreadable_config_exits_2(mp, tmp_path: Path) -> None:
    missing = mp.main(tmp_path / "missing.json")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert mp.main(broken).returncode == 2
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([1, 2]))
    assert mp.main(listed).returncode == 2


def test_uplink_size_for_ten_quantities(mp, udp_peer, tmp_path: Path) -> None:
    peer = udp_peer(gateway_like)
    config = write_config(tmp_path, gateway=f"coap://127.0.0.1:{peer.port}", cycles=1)
    (report,) = reports(mp.main(config).stdout)
    assert report["bytes"] == len(peer.received[0].payload)
    assert report["bytes"] < 320  # one CoAP datagram, well inside NB-IoT / LoRa-free budgets


def test_a_long_run_fits_a_board_sized_heap(mp, udp_peer, tmp_path: Path) -> None:
    # 64 kB heap: a leak or fragmentation shows up as a MemoryError within a few dozen cycles
    peer = udp_peer(gateway_like)
    config = write_config(
        tmp_path, gateway=f"coap://127.0.0.1:{peer.port}", cycles=80, interval_s=0
    )
    proc = mp.main(config, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert len(reports(proc.stdout)) == 80


@pytest.mark.services
def test_a_long_mqtt_run_fits_a_board_sized_heap(mp, mosquitto, tmp_path: Path) -> None:
    mosquitto.allow([node_info()])
    config = write_config(
        tmp_path,
        transport="mqtt",
        gateway=mosquitto.url,
        cycles=40,
        interval_s=0,
        **node_credentials(node_info()),
    )
    proc = mp.main(config, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert {r["result"] for r in reports(proc.stdout)} == {"puback"}
