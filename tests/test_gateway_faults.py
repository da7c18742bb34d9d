"""Fault tests on real processes: nothing the gateway acknowledged is ever lost or doubled.

- InfluxDB stopped for 30 s in the middle of a CoAP stream, then started again;
- the gateway SIGKILLed mid-stream and restarted (unacknowledged uplinks resent, as a node's
  outbox does);
- the MQTT broker restarted mid-stream.
Each ends by comparing every acknowledged sample with what InfluxDB holds: all there, once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiocoap
import pytest

from backend.store import open_store
from ruong.services import InfluxServer, start_influxd, start_mosquitto
from tests.conftest import GatewayProcess, start_gateway, wait_until
from tests.faults import MqttPublisher, Sample, Traffic, coap_send, expected_times, stored_times

pytestmark = pytest.mark.services

OUTAGE_S = 30.0


def provision(gateway: GatewayProcess, n: int, transport: str) -> list:
    registry = gateway.registry()
    try:
        return [registry.provision("test-farm", f"ruong-{i}", transport) for i in range(1, n + 1)]
    finally:
        registry.close()


def metric(gateway: GatewayProcess, name: str) -> float:
    """One unlabelled sample from the gateway's /metrics."""
    for labels, value in gateway.samples(name):
        if not labels:
            return value
    raise AssertionError(f"{name} not in /metrics")


def wait_until_stored(gateway: GatewayProcess, acked: list[Sample], timeout_s: float = 90) -> dict:
    store = open_store(gateway.settings.store)
    try:
        wait_until(
            lambda: (
                sum(len(v) for v in stored_times(store).values()) >= len(acked)
                and metric(gateway, "ruong_spool_uplinks") == 0
            ),
            timeout_s,
            lambda: (
                f"{sum(len(v) for v in stored_times(store).values())} of {len(acked)} "
                "acknowledged stored"
            ),
        )
        return stored_times(store)
    finally:
        store.close()


def test_influxdb_down_for_30_s_mid_stream(tmp_path: Path) -> None:
    influx = start_influxd(tmp_path / "influx")
    try:
        gateway = start_gateway(tmp_path / "gw", influx.url)
        try:
            traffic = Traffic(provision(gateway, 4, "coap"))
            acked: list[Sample] = []

            async def scenario() -> None:
                nonlocal influx
                ctx = await aiocoap.Context.create_client_context()
                try:

                    async def stream(seconds: float) -> None:
                        end = time.monotonic() + seconds
                        while time.monotonic() < end:
                            sample = traffic.next()
                            code = await coap_send(ctx, gateway.coap_port, sample, 10)
                            assert code == "2.04", f"{code} while the spool should take it"
                            acked.append(sample)
                            await asyncio.sleep(0.02)

                    await stream(3)
                    port = influx.port
                    await asyncio.to_thread(influx.stop)
                    await stream(OUTAGE_S)  # acknowledged from the spool, store down
                    assert metric(gateway, "ruong_spool_uplinks") > 0
                    influx = await asyncio.to_thread(
                        start_influxd, tmp_path / "influx", "ruong", 30.0, port
                    )
                    await stream(3)
                finally:
                    await ctx.shutdown()

            asyncio.run(scenario())
            stored = wait_until_stored(gateway, acked)
            assert stored == expected_times(acked)  # every acked sample, exactly once
            assert len(acked) > 300
            print(f"InfluxDB down {OUTAGE_S} s: {len(acked)} acknowledged, each stored once")
            assert "store write failed" in gateway.log()
        finally:
            gateway.process.stop()
    finally:
        influx.stop()


def test_gateway_sigkill_mid_stream(tmp_path: Path, influxdb: InfluxServer) -> None:
    gateway = start_gateway(tmp_path / "gw", f"{influxdb.url}_{uuid.uuid4().hex[:8]}")
    traffic = Traffic(provision(gateway, 4, "coap"))
    acked: list[Sample] = []
    unacked: list[Sample] = []

    async def scenario() -> None:
        ctx = await aiocoap.Context.create_client_context()
        try:

            async def send(sample: Sample) -> None:
                code = await coap_send(ctx, gateway.coap_port, sample, 2)
                (acked if code == "2.04" else unacked).append(sample)

            for i in range(60):
                sends = [asyncio.create_task(send(traffic.next())) for _ in range(8)]
                if i == 20:  # kill with uplinks in flight: some spooled but not yet answered
                    await asyncio.sleep(0.002)
                    gateway.kill()
                await asyncio.gather(*sends)
                if i == 22:
                    await asyncio.to_thread(gateway.start)
                    retry, unacked[:] = list(unacked), []
                    for sample in retry:  # the node's outbox resends the very same bytes
                        await send(sample)
        finally:
            await ctx.shutdown()

    try:
        asyncio.run(scenario())
        assert unacked == [], f"{len(unacked)} uplinks never acknowledged"
        assert len(acked) == traffic.sent == 480
        stored = wait_until_stored(gateway, acked)
        assert stored == expected_times(acked)  # every acknowledged sample, exactly once
        print(f"gateway SIGKILLed: {len(acked)} acknowledged, each stored once")
    finally:
        gateway.process.stop()


def test_broker_restart_mid_stream(tmp_path: Path, influxdb: InfluxServer) -> None:
    broker = start_mosquitto(tmp_path / "mosquitto")
    gateway = start_gateway(
        tmp_path / "gw", f"{influxdb.url}_{uuid.uuid4().hex[:8]}", broker.gateway_url
    )
    publisher: MqttPublisher | None = None
    try:
        gateway.process.wait_for_log("MQTT subscribed", 20)
        traffic = Traffic(provision(gateway, 4, "mqtt"))
        broker.allow(traffic.nodes)
        publisher = MqttPublisher(broker)
        for i in range(600):
            publisher.publish(traffic.next())
            time.sleep(0.005)
            if i == 300:
                broker.stop()  # SIGTERM: mosquitto saves its persistent sessions
                time.sleep(2)
                broker.start()  # same port, accounts and sessions
        wait_until(
            lambda: len(publisher.acked) >= traffic.sent,
            60,
            lambda: f"{len(publisher.acked)}/{traffic.sent} PUBACKed",
        )
        stored = wait_until_stored(gateway, publisher.acked)
        assert stored == expected_times(publisher.acked)
        assert gateway.log().count("MQTT subscribed") >= 2  # it reconnected
        print(f"broker restarted: {len(publisher.acked)} PUBACKed, each stored once")
    finally:
        if publisher is not None:
            publisher.close()
        gateway.process.stop()
        broker.stop()
