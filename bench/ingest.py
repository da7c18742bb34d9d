"""Ingest benchmark: pre-signed uplinks through the real gateway into real InfluxDB.

    .venv/bin/python -m bench.ingest [--uplinks 20000] [--nodes 50] [--publishers 4]

Starts influxd, mosquitto and `ruong gateway` in a temp dir, then from one run prints:
- (a) baseline: the same points written straight to InfluxDB as line protocol (5,000 per POST);
- (b) MQTT: N uplinks published QoS 1 by several publishers, until all are queryable;
- (c) CoAP: N uplinks POSTed (confirmable, 64 in flight), until all are queryable;
with uplinks/s end to end, the ratio to (a), and p50/p99 latency from publish to queryable,
where "queryable" is observed by polling `SELECT COUNT(*)` every 20 ms (the spool writes in
arrival order, so the k-th uplink is queryable once the count reaches k; resolution ~20 ms).
Then a paced run at 1,000 uplinks/s over MQTT for the p99 target. Then a second gateway process
joins the MQTT 5 shared subscription (same registry, its own spool, same InfluxDB) and (b) and
the paced run are repeated with the stream split between the two (`--no-second` skips that).
Not a test: figures depend on the machine; run it before and after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiocoap
import httpx
import paho.mqtt.client as mqtt
from prometheus_client.parser import text_string_to_metric_families

from backend.registry import Registry
from backend.services import start_influxd, start_mosquitto
from backend.store.base import line_protocol
from gateway.ingest import uplink_points
from gateway.uplink import decode_uplink
from tests.conftest import GatewayProcess, start_gateway
from tests.faults import Sample, Traffic, coap_send

POLL_S = 0.02


def count_readings(http: str, db: str) -> int:
    resp = httpx.get(
        f"{http}/query", params={"db": db, "q": "SELECT COUNT(soil_vwc) FROM readings"}
    )
    series = resp.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


class Watcher(threading.Thread):
    """Polls the readings count; records when each count was first seen."""

    def __init__(self, http: str, db: str, count: int) -> None:
        super().__init__(daemon=True)
        self.http, self.db = http, db
        self.base = count_readings(http, db)  # readings from earlier runs
        self.target = self.base + count
        self.seen: list[tuple[float, int]] = []

    def run(self) -> None:
        count = 0
        while count < self.target:
            count = count_readings(self.http, self.db)
            self.seen.append((time.perf_counter(), count))
            time.sleep(POLL_S)

    def latencies(self, sent_at: list[float]) -> list[float]:
        out, j = [], 0
        for k, t_sent in enumerate(sent_at):
            while j < len(self.seen) and self.seen[j][1] < self.base + k + 1:
                j += 1
            if j < len(self.seen):
                out.append(self.seen[j][0] - t_sent)
        return out


def make_uplinks(registry: Registry, nodes: int, count: int, transport: str) -> list[Sample]:
    """`count` signed uplinks from `nodes` fresh nodes, one sample second apart, a day ago."""
    infos = [registry.provision("bench", f"{transport}-{i}", transport) for i in range(nodes)]
    traffic = Traffic(infos, t0=int(time.time()) - 86400)
    return [traffic.next() for _ in range(count)]


def baseline(http: str, db: str, uplinks: list[Sample]) -> float:
    """Uplinks/s when their points go straight to /write as line protocol, no gateway."""
    httpx.post(f"{http}/query", params={"q": f'CREATE DATABASE "{db}"'})
    now = time.time()
    lines = [
        line_protocol(p)
        for u in uplinks
        for p in uplink_points(decode_uplink(u.payload, lambda _n, node=u.node: node, now))
    ]
    started = time.perf_counter()
    for i in range(0, len(lines), 5000):
        r = httpx.post(
            f"{http}/write",
            params={"db": db, "precision": "ms"},
            content="\n".join(lines[i : i + 5000]).encode(),
        )
        assert r.status_code == 204, r.text
    return len(uplinks) / (time.perf_counter() - started)


def run_mqtt(
    port: int, uplinks: list[Sample], publishers: int, rate: float | None, watcher: Watcher
):
    clients = []
    for i in range(publishers):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{i}")
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients.append(c)
    sent_at: list[float] = []
    watcher.start()
    started = time.perf_counter()
    for k, u in enumerate(uplinks):
        if rate is not None:
            delay = started + k / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent_at.append(time.perf_counter())
        clients[k % publishers].publish(f"ruong/{u.node.node}/up", u.payload, qos=1)
    watcher.join()
    elapsed = watcher.seen[-1][0] - started
    for c in clients:
        c.loop_stop()
        c.disconnect()
    return len(uplinks) / elapsed, watcher.latencies(sent_at)


async def run_coap(port: int, uplinks: list[Sample], watcher: Watcher, in_flight: int = 64):
    # one client context (one UDP endpoint) per sender, as with real nodes: RFC 7252 s4.7
    # (NSTART = 1) allows one outstanding request per endpoint, which aiocoap enforces
    contexts = [await aiocoap.Context.create_client_context() for _ in range(in_flight)]
    sent_at: list[float] = [0.0] * len(uplinks)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for k in range(len(uplinks)):
        queue.put_nowait(k)

    async def worker(ctx: aiocoap.Context) -> None:
        while not queue.empty():
            k = queue.get_nowait()
            sent_at[k] = time.perf_counter()
            code = await coap_send(ctx, port, uplinks[k], timeout_s=60)
            assert code == "2.04", code

    watcher.start()
    started = time.perf_counter()
    await asyncio.gather(*(worker(ctx) for ctx in contexts))
    await asyncio.to_thread(watcher.join)
    for ctx in contexts:
        await ctx.shutdown()
    # CoAP workers send out of index order; latency per uplink uses the count reached after it
    order = sorted(range(len(uplinks)), key=lambda k: sent_at[k])
    return len(uplinks) / (watcher.seen[-1][0] - started), watcher.latencies(
        [sent_at[k] for k in order]
    )


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 2 else float("nan")


def stored_by(gateway: GatewayProcess) -> int:
    """Uplinks this gateway spooled as new over MQTT, from its /metrics."""
    text = httpx.get(f"{gateway.settings.metrics_bind}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ruong_uplinks_total" and sample.labels == {
                "transport": "mqtt",
                "outcome": "stored",
            }:
                return int(sample.value)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.ingest")
    ap.add_argument("--uplinks", type=int, default=20000)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument(
        "--no-second", action="store_true", help="skip the runs with two gateway processes"
    )
    args = ap.parse_args(argv)
    two = not args.no_second
    rows: list[tuple[str, float | None, list[float]]] = []
    shares = ""

    with tempfile.TemporaryDirectory(prefix="ruong-bench-") as tmp:
        work = Path(tmp)
        influx = start_influxd(work / "influx")
        broker = start_mosquitto(work / "mosquitto")
        gateway = start_gateway(
            work / "gw",
            influx.url,
            broker.url,
            gateway_mqtt_client_id="bench-gw-1",
            gateway_mqtt_share_group="bench",
        )
        second: GatewayProcess | None = None
        registry = gateway.registry()
        try:
            gateway.process.wait_for_log("MQTT subscribed", 30)
            n = args.uplinks
            # every node is provisioned before any traffic, so the second gateway's copy of the
            # registry knows them all
            base = make_uplinks(registry, args.nodes, n, "mqtt")
            mq = make_uplinks(registry, args.nodes, n, "mqtt")
            co = make_uplinks(registry, args.nodes, n, "coap")
            paced = make_uplinks(registry, args.nodes, 10000, "mqtt")
            mq2 = make_uplinks(registry, args.nodes, n, "mqtt") if two else []
            paced2 = make_uplinks(registry, args.nodes, 10000, "mqtt") if two else []
            (work / "gw2").mkdir()
            shutil.copy(work / "gw" / "registry.db", work / "gw2" / "registry.db")

            base_rate = baseline(influx.http, "baseline", base)
            rate, lat = run_mqtt(
                broker.port, mq, args.publishers, None, Watcher(influx.http, "ruong", n)
            )
            rows.append(("(b) MQTT QoS1 -> gateway -> Influx", rate, lat))
            rate, lat = asyncio.run(
                run_coap(gateway.coap_port, co, Watcher(influx.http, "ruong", n))
            )
            rows.append(("(c) CoAP CON -> gateway -> Influx", rate, lat))
            _, lat = run_mqtt(
                broker.port, paced, args.publishers, 1000.0, Watcher(influx.http, "ruong", 10000)
            )
            rows.append(("MQTT paced at 1,000/s (10,000)", None, lat))
            if two:
                second = start_gateway(
                    work / "gw2",
                    influx.url,
                    broker.url,
                    gateway_mqtt_client_id="bench-gw-2",
                    gateway_mqtt_share_group="bench",
                )
                second.process.wait_for_log("MQTT subscribed", 30)
                before = stored_by(gateway), stored_by(second)
                rate, lat = run_mqtt(
                    broker.port, mq2, args.publishers, None, Watcher(influx.http, "ruong", n)
                )
                rows.append(("(b2) MQTT, 2 gateway processes", rate, lat))
                one, other = stored_by(gateway) - before[0], stored_by(second) - before[1]
                shares = f"(b2) split: gateway 1 stored {one}, gateway 2 stored {other}"
                _, lat = run_mqtt(
                    broker.port,
                    paced2,
                    args.publishers,
                    1000.0,
                    Watcher(influx.http, "ruong", 10000),
                )
                rows.append(("MQTT paced 1,000/s, 2 gateways", None, lat))
        finally:
            if second is not None:
                second.process.stop()
            gateway.process.stop()
            broker.stop()
            influx.stop()
            registry.close()

    print(f"uplinks: {n} per run, {args.nodes} nodes, 2 points each (readings + node_status)")
    print(f"{'path':<34}{'uplinks/s':>10}{'vs raw':>8}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'(a) raw line protocol to /write':<34}{base_rate:>10.0f}{1:>8.2f}{'':>9}{'':>9}")
    for name, rate, lat in rows:
        figures = f"{rate:>10.0f}{rate / base_rate:>8.2f}" if rate is not None else " " * 18
        print(f"{name:<34}{figures}{pct(lat, 50) * 1000:>9.0f}{pct(lat, 99) * 1000:>9.0f}")
    if shares:
        print(shares)
    return 0


if __name__ == "__main__":
    sys.exit(main())
