"""Ingest benchmark: pre-signed uplinks through the real gateway into real InfluxDB.

    .venv/bin/python -m bench.ingest [--uplinks 20000] [--nodes 50] [--publishers 4]

Starts influxd, mosquitto and `ruong gateway` in a temp dir, then from one run prints:
- (a) baseline: the same points written straight to InfluxDB as line protocol (5,000 per POST),
  three times (each into its own database), the median in the table;
- (b) MQTT: N uplinks published QoS 1 by several publishers, until all are queryable;
- (c) CoAP: N uplinks POSTed (confirmable, 64 in flight), until all are queryable;
with uplinks/s end to end, the ratio to (a), and p50/p99 latency from publish to queryable,
where "queryable" is observed by polling `SELECT COUNT(*)` every 20 ms (the spool writes in
arrival order, so the k-th uplink is queryable once the count reaches k; resolution ~20 ms).
Then a paced run at 1,000 uplinks/s over MQTT for the p99 target. Then a second gateway process
joins the MQTT 5 shared subscription (same registry, its own spool, same InfluxDB) and (b) and
the paced run are repeated with the stream split between the two (`--no-second` skips that).
Then (d): the readings of (b)'s uplinks (same nodes, sample times and values) as plain JSON,
published the same way to a Node-RED flow (mqtt in -> function -> influxdb out; see
bench/nodered.py for what it does and does not do) on the same broker, into a sibling database
`nodered` of the same influxd, measured the same way, and its paced 1,000/s run; the table ends
with the ratio gateway (b) / Node-RED (d). `--no-node-red` skips (d); the first run installs
Node-RED with npm into ~/.cache/ruong-bench/node-red.
After each unpaced gateway run a note gives the CPU that gateway 1, mosquitto, influxd and this
process (publishers and watcher) spent per uplink, with the load average: on a small shared
machine uplinks/s swing from run to run, CPU per uplink much less, and the four share the cores.
Not a test: figures depend on the machine; run it before and after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiocoap
import httpx

from backend.registry import Registry
from backend.store.base import Point, line_protocol
from bench import nodered
from bench.mqtt_load import publish_all
from gateway.ingest import uplink_points
from gateway.uplink import decode_uplink
from ruong.services import start_influxd, start_mosquitto
from tests.conftest import GatewayProcess, start_gateway
from tests.faults import Sample, Traffic, coap_send

POLL_S = 0.02
STALL_S = 30.0
# QoS 1 publishes outstanding per publisher (the broker acknowledges them itself, so this
# does not limit what reaches the gateway: its own Receive Maximum does)
PUBLISH_WINDOW = 50
BASELINE_RUNS = 3


def count_readings(http: httpx.Client, db: str) -> int:
    resp = http.get("/query", params={"db": db, "q": "SELECT COUNT(soil_vwc) FROM readings"})
    series = resp.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


class Watcher(threading.Thread):
    """Polls the readings count; records when each count was first seen.

    One HTTP client for all polls: `httpx.get` builds a client (and its TLS context) per call,
    ~5 ms of CPU taken from the gateway under test every 20 ms.
    """

    def __init__(self, http: str, db: str, count: int) -> None:
        super().__init__(daemon=True)
        self.http, self.db = httpx.Client(base_url=http), db
        self.base = count_readings(self.http, db)  # readings from earlier runs
        self.target = self.base + count
        self.seen: list[tuple[float, int]] = []

    def run(self) -> None:
        """Poll until the target count, or until it has not grown for STALL_S (points lost)."""
        count, progress = 0, time.perf_counter()
        while count < self.target and time.perf_counter() - progress < STALL_S:
            new = count_readings(self.http, self.db)
            now = time.perf_counter()  # after the query, as a point may land during it
            if new > count:
                count, progress = new, now
            self.seen.append((now, new))
            time.sleep(POLL_S)
        self.http.close()

    @property
    def stored(self) -> int:
        """Points of this run that became queryable."""
        return max((c for _, c in self.seen), default=self.base) - self.base

    @property
    def done_at(self) -> float:
        """When the last of them was first seen."""
        return next(t for t, c in self.seen if c == self.stored + self.base)

    def latencies(self, sent_at: list[float]) -> list[float]:
        out, j = [], 0
        for k, t_sent in enumerate(sent_at):
            while j < len(self.seen) and self.seen[j][1] < self.base + k + 1:
                j += 1
            if j < len(self.seen):
                out.append(self.seen[j][0] - t_sent)
        return out


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time (s) used so far by process `pid` (default: this one), from /proc."""
    if pid is None:
        return sum(os.times()[:2])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class CpuMeter:
    """CPU per uplink of each process of a run: where the machine's cores went.

    On a small shared machine the uplinks/s of one run swing with whatever else runs; the CPU
    each process spent per uplink moves far less, and says which part to make cheaper.
    """

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def note(self, name: str, uplinks: int) -> str:
        used = {k: cpu_seconds(pid) - self.start[k] for k, pid in self.pids.items()}
        per = ", ".join(f"{k} {s / uplinks * 1e6:.0f}" for k, s in used.items())
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        return f"{name}: CPU µs per uplink: {per}; load average {load}"


def make_uplinks(registry: Registry, nodes: int, count: int, transport: str) -> list[Sample]:
    """`count` signed uplinks from `nodes` fresh nodes, one sample second apart, a day ago."""
    infos = [registry.provision("bench", f"{transport}-{i}", transport) for i in range(nodes)]
    traffic = Traffic(infos, t0=int(time.time()) - 86400)
    return [traffic.next() for _ in range(count)]


def points_of(uplink: Sample) -> list[Point]:
    """The points the gateway stores for this uplink (decoded and MAC-checked, no replay window)."""
    return uplink_points(decode_uplink(uplink.payload, lambda _n: uplink.node, time.time()))


def baseline(http: str, db: str, uplinks: list[Sample], runs: int = BASELINE_RUNS) -> list[float]:
    """Uplinks/s when their points go straight to /write as line protocol, no gateway: one
    figure per run, each into its own database (`<db>_<k>`).

    One run takes about a second and swung from 29k to 54k uplinks/s between bench runs on the
    2-core machine; the table uses the median of `runs`.
    """
    lines = [line_protocol(p) for u in uplinks for p in points_of(u)]
    rates = []
    for k in range(runs):
        name = f"{db}_{k}"
        httpx.post(f"{http}/query", params={"q": f'CREATE DATABASE "{name}"'})
        started = time.perf_counter()
        for i in range(0, len(lines), 5000):
            r = httpx.post(
                f"{http}/write",
                params={"db": name, "precision": "ms"},
                content="\n".join(lines[i : i + 5000]).encode(),
            )
            assert r.status_code == 204, r.text
        rates.append(len(uplinks) / (time.perf_counter() - started))
    return rates


def gateway_messages(uplinks: list[Sample]) -> list[tuple[str, bytes]]:
    """(topic, payload) of each signed uplink, as nodes publish them to the gateway."""
    return [(f"ruong/{u.node.node}/up", u.payload) for u in uplinks]


def nodered_messages(uplinks: list[Sample]) -> list[tuple[str, bytes]]:
    """(topic, payload) of the same readings as one plain JSON object per message.

    `{"farm", "field", "node", "time": Unix ms, <quantity>: value, ...}`: the uplink's `readings`
    point (same tags, sample time and values as the gateway stores), unsigned, no counter.
    """
    out = []
    for u in uplinks:
        for p in points_of(u):
            if p.measurement == "readings":
                body = {**p.tags, "time": p.time_ms, **p.fields}
                out.append((nodered.NodeRed.topic(u.node.node), json.dumps(body).encode()))
    return out


def run_mqtt(
    port: int,
    messages: list[tuple[str, bytes]],
    publishers: int,
    rate: float | None,
    watcher: Watcher,
):
    """Publish QoS 1 round-robin from `publishers` connections (paced at `rate`/s if given),
    at most PUBLISH_WINDOW unacknowledged on each (bench/mqtt_load.py).

    Returns (messages/s until the watcher saw the last point, publish->queryable latencies).
    """
    watcher.start()
    started, sent_at = publish_all(
        port, messages, publishers, rate, PUBLISH_WINDOW, watcher.is_alive
    )
    watcher.join()
    return watcher.stored / (watcher.done_at - started), watcher.latencies(sent_at)


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
    return watcher.stored / (watcher.done_at - started), watcher.latencies(
        [sent_at[k] for k in order]
    )


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 2 else float("nan")


def stored_by(gateway: GatewayProcess) -> int:
    """Uplinks this gateway spooled as new over MQTT, from its /metrics."""
    for labels, value in gateway.samples("ruong_uplinks_total"):
        if labels == {"transport": "mqtt", "outcome": "stored"}:
            return int(value)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.ingest")
    ap.add_argument("--uplinks", type=int, default=20000)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument(
        "--no-second", action="store_true", help="skip the runs with two gateway processes"
    )
    ap.add_argument("--no-node-red", action="store_true", help="skip the Node-RED flow runs (d)")
    args = ap.parse_args(argv)
    two, red = not args.no_second, not args.no_node_red
    rows: list[tuple[str, float | None, list[float]]] = []
    notes: list[str] = []
    installed = None
    if red:
        try:
            installed = nodered.install()  # before any server starts: a missing node/npm fails here
        except nodered.NodeRedError as e:
            print(f"bench.ingest: {e}", file=sys.stderr)
            return 1

    def mqtt_row(name: str, port: int, msgs, rate: float | None, db: str = "ruong") -> float:
        watcher = Watcher(influx.http, db, len(msgs))
        meter = CpuMeter(
            {
                "gateway 1": gateway.process.proc.pid,
                "mosquitto": broker.proc.pid,
                "influxd": influx.proc.pid,
                "bench (publishers, watcher)": None,
            }
        )
        got, lat = run_mqtt(port, msgs, args.publishers, rate, watcher)
        if rate is None and db == "ruong":  # the Node-RED runs do not use the gateway
            notes.append(meter.note(name, len(msgs)))
        rows.append((name, None if rate else got, lat))
        if watcher.stored < len(msgs):
            notes.append(
                f"{name}: only {watcher.stored} of {len(msgs)} points queryable "
                f"({STALL_S:.0f} s without progress); rate and latency cover those"
            )
        return got

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
        flow: nodered.NodeRed | None = None
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

            base_rates = baseline(influx.http, "baseline", base)
            base_rate = statistics.median(base_rates)
            gw_rate = mqtt_row(
                "(b) MQTT QoS1 -> gateway -> Influx", broker.port, gateway_messages(mq), None
            )
            rate, lat = asyncio.run(
                run_coap(gateway.coap_port, co, Watcher(influx.http, "ruong", n))
            )
            rows.append(("(c) CoAP CON -> gateway -> Influx", rate, lat))
            mqtt_row("MQTT paced at 1,000/s (10,000)", broker.port, gateway_messages(paced), 1000.0)
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
                mqtt_row("(b2) MQTT, 2 gateway processes", broker.port, gateway_messages(mq2), None)
                one, other = stored_by(gateway) - before[0], stored_by(second) - before[1]
                notes.append(f"(b2) split: gateway 1 stored {one}, gateway 2 stored {other}")
                mqtt_row(
                    "MQTT paced 1,000/s, 2 gateways", broker.port, gateway_messages(paced2), 1000.0
                )
                second.process.stop()  # idle, but out of the way of the Node-RED runs
            if red:
                # the gateways only subscribe to ruong/+/up: they never see bench/nodered/...
                flow = nodered.start_node_red(work, broker.port, influx.http, "nodered", installed)
                nodered.probe(broker.port, influx.http, "nodered")

                def red_row(name: str, uplinks: list[Sample], rate: float | None) -> float:
                    assert flow is not None
                    errors = flow.write_errors()
                    got = mqtt_row(name, broker.port, nodered_messages(uplinks), rate, "nodered")
                    time.sleep(2)  # a write can fail after its point became queryable
                    if flow.write_errors() > errors:
                        notes.append(
                            f"{name}: Node-RED logged {flow.write_errors() - errors} failed "
                            "InfluxDB writes (HTTP 5xx after its 2 retries; no spool behind them)"
                        )
                    return got

                red_rate = red_row("(d) MQTT QoS1 -> Node-RED -> Influx", mq, None)
                red_row("Node-RED paced at 1,000/s", paced, 1000.0)
        finally:
            if flow is not None:
                flow.stop()
            if second is not None:
                second.process.stop()
            gateway.process.stop()
            broker.stop()
            influx.stop()
            registry.close()

    print(f"uplinks: {n} per run, {args.nodes} nodes, {args.publishers} MQTT publishers")
    print("gateway: 2 points per uplink (readings + node_status); Node-RED: 1 (readings)")
    print(f"{'path':<36}{'uplinks/s':>10}{'vs raw':>8}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'(a) raw line protocol to /write':<36}{base_rate:>10.0f}{1:>8.2f}{'':>9}{'':>9}")
    for name, rate, lat in rows:
        figures = f"{rate:>10.0f}{rate / base_rate:>8.2f}" if rate is not None else " " * 18
        print(f"{name:<36}{figures}{pct(lat, 50) * 1000:>9.0f}{pct(lat, 99) * 1000:>9.0f}")
    print(
        f"(a) is the median of {len(base_rates)} runs: "
        + ", ".join(f"{rate:.0f}" for rate in base_rates)
        + f"; (b) / (a) = {gw_rate / base_rate:.2f} (target >= 0.25)"
    )
    if red:
        print(f"gateway / Node-RED, (b) / (d): {gw_rate / red_rate:.2f}x (target >= 2)")
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
