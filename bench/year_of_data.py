"""A year of 15-minute readings for many fields, written straight to InfluxDB, for benchmarks
of what the dashboard asks the store (a field's year in daily windows, < 300 ms p95).

    .venv/bin/python -m bench.year_of_data [--fields 100] [--days 365] [--queries 100]

`write_year` makes realistic readings per field and node (soil_vwc %, water_level m on every
other field, the paddies, air_temp Cel, air_rh %RH, rain mm per sample, leaf_wet, and
battery V, rssi dBm, counter into node_status), posts them as line protocol in large gzipped
batches (`InfluxStore.write_lines`, a few in flight), then backfills the hourly series
(`backfill_downsampled`; the CQs only cover hours to come). The main program starts a
throwaway influxd in a temp dir, writes, and times `Store.aggregate` over a year in daily
windows for random fields: from the hourly series, then with it dropped (the raw rows), and
checks both give the same answer.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from scipy.signal import lfilter

from backend.store import open_store
from backend.store.downsample import RETENTION_POLICY
from backend.store.influx import InfluxStore
from ruong.services import start_influxd

DAY_S = 86_400
LINES_PER_BATCH = 50_000  # about 5 MB of line protocol, under 1 MB gzipped
IN_FLIGHT = 3  # batches posted at once: influxd parses one while the next is gzipped
UTC_OFFSET_H = 7  # Vietnam: the diurnal cycles follow local time


def bench_fields(n: int, farm: str = "bench") -> list[tuple[str, str, str]]:
    """`n` (farm, field, node): one node per field."""
    return [(farm, f"field-{i:03d}", f"n{i:03d}") for i in range(n)]


def _columns(
    rng: np.random.Generator, times_s: np.ndarray, interval_s: int, paddy: bool
) -> dict[str, np.ndarray]:
    """One node's values at `times_s` (Unix s): the seasons and days of the Red River delta,
    rain in showers of the wet season, soil moisture following the rain and drying out."""
    n = len(times_s)
    day = times_s / DAY_S
    season = np.sin(2 * math.pi * (day % 365.25 - 100) / 365.25)  # 1 in early summer
    hour = (times_s / 3600 + UTC_OFFSET_H) % 24
    diurnal = np.sin(2 * math.pi * (hour - 9) / 24)  # warmest mid-afternoon
    air_temp = 24 + 6 * season + 4 * diurnal + rng.normal(0, 0.7, n)
    air_rh = np.clip(84 - 2.8 * (air_temp - 24) + rng.normal(0, 3, n), 35, 100)
    wet_season = np.clip(season + 0.3, 0, None)
    shower = rng.random(n) < (0.007 + 0.05 * wet_season) * interval_s / 900
    # a tipping bucket counts 0.2 mm
    rain = np.where(shower, np.floor(rng.exponential(1.6, n) / 0.2) * 0.2, 0.0)
    # soil water: rain soaks in, then drains and evaporates over about three days
    keep = math.exp(-interval_s / (3 * DAY_S))
    soaked = lfilter([1 - keep], [1, -keep], rain)
    soil_vwc = np.clip(17 + 60 * (1 - np.exp(-soaked / 0.05)) + rng.normal(0, 0.4, n), 5, 55)
    leaf_wet = np.clip(1 / (1 + np.exp(-(air_rh - 92) / 2)) + (rain > 0), 0, 1)
    columns = {
        "soil_vwc": soil_vwc,
        "air_temp": air_temp,
        "air_rh": air_rh,
        "rain": rain,
        "leaf_wet": leaf_wet,
    }
    if paddy:
        # alternate wetting and drying: flooded to +5 cm, dried to -15 cm over 20 days
        cycle = (day + rng.uniform(0, 20)) % 20 / 20
        columns["water_level"] = 0.05 - 0.20 * cycle + 0.002 * soaked + rng.normal(0, 0.003, n)
    # solar-charged: up by day, down by night, slowly ageing
    battery = 3.85 + 0.18 * diurnal - 0.1 * (day / 365 % 1) + rng.normal(0, 0.01, n)
    columns["battery"] = np.clip(battery, 3.3, 4.2)
    columns["rssi"] = np.clip(rng.uniform(-105, -75) + rng.normal(0, 3, n), -130, -40)
    return columns


def _lines(
    tags: str, columns: dict[str, np.ndarray], times_ms: np.ndarray, counters: np.ndarray
) -> Iterator[str]:
    """Line protocol for one node's slice: `readings` then `node_status`."""
    names = [k for k in columns if k not in ("battery", "rssi")]
    formats = {"air_rh": "%.1f", "rain": "%.1f", "water_level": "%.3f"}
    readings = (
        f"readings,{tags} " + ",".join(f"{k}={formats.get(k, '%.2f')}" for k in names) + " %d"
    )
    values = [columns[k].tolist() for k in names]
    t = times_ms.tolist()
    yield "\n".join(readings % row for row in zip(*values, t, strict=True))
    status = f"node_status,{tags} battery=%.3f,rssi=%.0f,counter=%di %d"
    yield "\n".join(
        status % row
        for row in zip(
            columns["battery"].tolist(), columns["rssi"].tolist(), counters.tolist(), t, strict=True
        )
    )


def write_year(
    store_url: str,
    fields: list[tuple[str, str, str]],
    days: int = 365,
    interval_s: int = 900,
    seed: int = 0,
) -> int:
    """Write `days` days up to now of one sample every `interval_s` seconds per (farm, field,
    node) into the InfluxDB at `store_url`, then backfill its hourly series; returns the
    number of points (lines) written. Prints the rates."""
    store = open_store(store_url)
    if not isinstance(store, InfluxStore):
        raise TypeError(f"write_year writes line protocol to InfluxDB, not to {store_url}")
    step_ms = interval_s * 1000
    end_ms = int(time.time() * 1000) // step_ms * step_ms
    samples = days * DAY_S // interval_s
    times_ms = end_ms - np.arange(samples - 1, -1, -1, dtype=np.int64) * step_ms  # oldest first
    times_s = times_ms / 1000
    started = time.monotonic()
    data = [
        _columns(np.random.default_rng([seed, i]), times_s, interval_s, paddy=i % 2 == 0)
        for i in range(len(fields))
    ]
    tags = [f"farm={farm},field={field},node={node}" for farm, field, node in fields]
    counters = np.arange(1, samples + 1)
    per_batch = max(1, LINES_PER_BATCH // (2 * len(fields)))  # samples of every field a batch
    points = 0
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        pending: list[Future[None]] = []
        for lo in range(0, samples, per_batch):
            part = slice(lo, min(lo + per_batch, samples))
            text = "\n".join(
                block
                for i, columns in enumerate(data)
                for block in _lines(
                    tags[i],
                    {k: v[part] for k, v in columns.items()},
                    times_ms[part],
                    counters[part],
                )
            )
            points += 2 * len(fields) * (part.stop - part.start)
            pending.append(pool.submit(store.write_lines, text))
            while len(pending) >= IN_FLIGHT:  # bounded memory: wait for the oldest
                pending.pop(0).result()
        for future in pending:
            future.result()
    wrote_s = time.monotonic() - started
    print(
        f"wrote {points:,} points ({len(fields)} fields x {samples:,} samples x 2 measurements) "
        f"in {wrote_s:.1f} s: {points / wrote_s:,.0f} points/s",
        flush=True,
    )
    started = time.monotonic()
    store.ensure_downsampling()
    hourly = store.backfill_downsampled(int(times_ms[0]), end_ms + step_ms)
    print(f"backfilled {hourly:,} hourly points in {time.monotonic() - started:.1f} s", flush=True)
    store.close()
    return points


def _time_queries(
    store_url: str, fields: list[tuple[str, str, str]], days: int, queries: int, seed: int
) -> tuple[list[float], list[list[tuple[int, float]]]]:
    """Latencies (ms) and answers of `queries` aggregates over `days` days in daily windows,
    random fields, the functions in turn."""
    rng = random.Random(seed)
    until = int(time.time() * 1000)
    since = until - days * DAY_S * 1000
    latencies, answers = [], []
    with open_store(store_url) as store:
        for k in range(queries):
            farm, field, _ = rng.choice(fields)
            fn = ("mean", "sum", "min", "max")[k % 4]
            quantity = ("soil_vwc", "rain", "air_temp", "battery")[k % 4]
            measurement = "node_status" if quantity == "battery" else "readings"
            where = {"farm": farm, "field": field}
            started = time.perf_counter()
            answers.append(
                store.aggregate(measurement, quantity, where, since, until, DAY_S, fn=fn)
            )
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies, answers


def _summary(latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=20)
    return f"p50 {statistics.median(latencies):.0f} ms, p95 {cuts[18]:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.year_of_data")
    ap.add_argument("--fields", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--interval", type=int, default=900, help="seconds between samples")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    fields = bench_fields(args.fields)
    with tempfile.TemporaryDirectory(prefix="ruong-bench-year-") as tmp:
        influx = start_influxd(Path(tmp) / "influxd")
        try:
            started = time.monotonic()
            write_year(influx.url, fields, args.days, args.interval, args.seed)
            print(f"write_year took {time.monotonic() - started:.1f} s", flush=True)
            hourly_ms, hourly = _time_queries(
                influx.url, fields, args.days, args.queries, args.seed
            )
            print(
                f"aggregate over --days in daily windows, hourly series: {_summary(hourly_ms)}",
                flush=True,
            )
            drop = f'DROP RETENTION POLICY "{RETENTION_POLICY}" ON "{influx.database}"'
            httpx.post(f"{influx.http}/query", params={"q": drop}).raise_for_status()
            raw_ms, raw = _time_queries(influx.url, fields, args.days, args.queries, args.seed)
            print(
                f"aggregate over --days in daily windows, raw rows:      {_summary(raw_ms)}",
                flush=True,
            )
            same = all(
                [w for w, _ in a] == [w for w, _ in b]
                and all(
                    math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for (_, x), (_, y) in zip(a, b)
                )
                for a, b in zip(hourly, raw, strict=True)
            )
            print(f"hourly and raw answers equal: {same}", flush=True)
        finally:
            influx.stop()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
