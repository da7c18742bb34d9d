"""Tens of thousands of bad uplinks over real CoAP and MQTT, interleaved with valid traffic:
the gateway stays up, accepts none of them, counts each by reason, stores every valid one."""

from __future__ import annotations

import asyncio
import os
import random
import time

import aiocoap
import cbor2
import pytest

from backend.registry import NodeInfo
from backend.store import open_store
from gateway.spool import REPLAY_WINDOW
from ruong.services import MosquittoServer
from tests.conftest import GatewayProcess, wait_until
from tests.faults import MqttPublisher, Sample, Traffic, coap_send, expected_times, stored_times
from tests.uplinks import cose_mac0, senml_pack, uplink

pytestmark = pytest.mark.services

N_BAD = int(os.environ.get("RUONG_FUZZ_N", "10000"))  # per transport


def bad_inputs(
    rng: random.Random, node: NodeInfo, replayed: NodeInfo, n: int
) -> list[tuple[str, bytes]]:
    """(expected reason, bytes) for `n` malformed, forged, replayed or invalid uplinks.

    `replayed` must already have an uplink stored with a counter above REPLAY_WINDOW + 100:
    its replays are correctly signed, valid, and carry a counter below the window.
    """
    now = int(time.time())
    good = uplink(node.key, node.node, 1, now, {"soil_vwc": 30.0})
    makers = [
        (
            "replay",
            lambda: uplink(
                replayed.key, replayed.node, rng.randint(1, 99), now - 60, {"soil_vwc": 30.0}
            ),
        ),
        ("malformed_cbor", lambda: bytes([0x9F]) + rng.randbytes(rng.randint(0, 40))),
        ("malformed_cbor", lambda: good[: rng.randint(1, len(good) - 1)]),
        ("bad_mac", lambda: uplink(rng.randbytes(32), node.node, 1, now, {"soil_vwc": 30.0})),
        ("too_large", lambda: rng.randbytes(2049 + rng.randint(0, 3000))),
        (
            "bad_senml",
            lambda: cose_mac0(
                node.key,
                node.node,
                1,
                cbor2.dumps([{-2: node.node + ":", -3: now, 0: "soil_vwc", 2: "wet"}]),
            ),
        ),
        ("out_of_range", lambda: uplink(node.key, node.node, 1, now, {"soil_vwc": 180.0})),
        ("unknown_node", lambda: uplink(node.key, "n00000000", 1, now, {"soil_vwc": 30.0})),
        ("not_cose_mac0", lambda: cbor2.dumps(senml_pack(node.node, now, {"soil_vwc": 1.0}))),
    ]
    return [(reason, make()) for reason, make in (rng.choice(makers) for _ in range(n))]


def rejects(gateway: GatewayProcess) -> dict[str, float]:
    return {labels["reason"]: value for labels, value in gateway.samples("ruong_rejects_total")}


def test_fuzz_over_both_transports(gateway: GatewayProcess, mosquitto: MosquittoServer) -> None:
    rng = random.Random(20261125)
    registry = gateway.registry()
    coap_nodes = [registry.provision("test-farm", f"c-{i}", "coap") for i in range(3)]
    mqtt_nodes = [registry.provision("test-farm", f"m-{i}", "mqtt") for i in range(3)]
    coap_replayed = registry.provision("test-farm", "c-replayed", "coap")
    mqtt_replayed = registry.provision("test-farm", "m-replayed", "mqtt")
    registry.close()
    mosquitto.allow([*mqtt_nodes, mqtt_replayed])
    gateway.process.wait_for_log("MQTT subscribed", 20)
    coap_bad = bad_inputs(rng, coap_nodes[0], coap_replayed, N_BAD)
    mqtt_bad = bad_inputs(rng, mqtt_nodes[0], mqtt_replayed, N_BAD)
    coap_traffic, mqtt_traffic = Traffic(coap_nodes), Traffic(mqtt_nodes)
    # the newest uplink of each replayed node, stored first: the replays fall below its window
    latest = REPLAY_WINDOW + 100
    now = int(time.time())
    coap_good = [
        Sample(
            coap_replayed,
            latest,
            now,
            uplink(coap_replayed.key, coap_replayed.node, latest, now, {"soil_vwc": 31.0}),
        )
    ]
    mqtt_latest = Sample(
        mqtt_replayed,
        latest,
        now,
        uplink(mqtt_replayed.key, mqtt_replayed.node, latest, now, {"soil_vwc": 31.0}),
    )

    async def coap_stream() -> None:
        ctx = await aiocoap.Context.create_client_context()
        try:
            assert await coap_send(ctx, gateway.coap_port, coap_good[0], 10) == "2.04"
            for start in range(0, len(coap_bad), 50):
                chunk = [
                    coap_send(ctx, gateway.coap_port, Sample(coap_nodes[0], 0, 0, data), 10)
                    for _, data in coap_bad[start : start + 50]
                ]
                sample = coap_traffic.next()
                chunk.append(coap_send(ctx, gateway.coap_port, sample, 10))
                codes = await asyncio.gather(*chunk)
                assert codes[-1] == "2.04"
                assert not any(c.startswith("2.") for c in codes[:-1]), codes
                coap_good.append(sample)
        finally:
            await ctx.shutdown()

    publisher = MqttPublisher(mosquitto, client_id="fuzz-publisher")
    try:
        mqtt_good = [mqtt_latest]
        publisher.publish(mqtt_latest)
        wait_until(lambda: len(publisher.acked) >= 1, 20, "the newest uplink PUBACKed")
        for i, (reason, data) in enumerate(mqtt_bad):
            sender = mqtt_replayed if reason == "replay" else mqtt_nodes[0]  # its own topic
            publisher.publish(Sample(sender, 0, 0, data))
            if i % 50 == 0:
                sample = mqtt_traffic.next()
                publisher.publish(sample)
                mqtt_good.append(sample)
        asyncio.run(coap_stream())
        wait_until(
            lambda: len(publisher.acked) >= len(mqtt_bad) + len(mqtt_good),
            120,
            lambda: f"{len(publisher.acked)}/{len(mqtt_bad) + len(mqtt_good)} PUBACKed",
        )
    finally:
        publisher.close()

    expected: dict[str, int] = {}
    for reason, _ in coap_bad + mqtt_bad:
        expected[reason] = expected.get(reason, 0) + 1
    wait_until(
        lambda: rejects(gateway) == {k: float(v) for k, v in expected.items()},
        60,
        lambda: f"counted {rejects(gateway)}, sent {expected}",
    )

    store = open_store(gateway.settings.store)
    try:
        want = expected_times(coap_good + mqtt_good)
        wait_until(lambda: stored_times(store) == want, 60, "valid traffic not all stored")
    finally:
        store.close()
    gateway.process.check_alive()
    print(
        f"fuzz: {sum(expected.values())} bad inputs, each counted by reason "
        f"({', '.join(f'{k} {v}' for k, v in sorted(expected.items()))}); "
        f"{len(coap_good)} CoAP + {len(mqtt_good)} MQTT valid uplinks between them stored"
    )
