"""Advice that follows the readings (`ruong forecast watch`, ruong/forecast_watch.py) and the
weather source in the forecast (`[weather] url`), against a real InfluxDB and a real local
Open-Meteo-shaped server (ruong/openmeteo_local.py) over loopback."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend.clock import Clock
from backend.config import load_settings
from backend.i18n import render
from backend.records import add_record
from backend.registry import Registry
from backend.store import Point, open_store
from forecasting import weather
from forecasting.soils import load_soils
from ruong import forecast_job, openmeteo_local
from ruong.forecast_watch import Watch
from ruong.services import free_port
from tests.conftest import write_config

NOW = pd.Timestamp("2026-03-20 06:30", tz=weather.TIME_ZONE)
FARM, FIELD = "hop-tac-xa", "ngo-1"
SOIL = load_soils()["silty_clay_loam"]
MOIST = round(SOIL.theta_fc * 100 - 1, 1)  # % near field capacity
DRY = round((SOIL.theta_wp + 0.25 * (SOIL.theta_fc - SOIL.theta_wp)) * 100, 1)  # past RAW


def _world(tmp_path: Path, influxdb, name: str, **extra: str):  # type: ignore[no-untyped-def]
    store_url = influxdb.url.rsplit("/", 1)[0] + f"/{name}"
    config = write_config(
        tmp_path / "ruong.toml",
        site_farm=FARM,
        store_url=store_url,
        registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
        weather_cache_dir=str(tmp_path / "weather"),
        **extra,
    )
    settings = load_settings(config)
    registry = Registry(settings.registry_url)
    node = registry.provision(FARM, FIELD, "coap").node
    registry.plant(FARM, FIELD, "maize", dt.date(2026, 2, 10), "silty_clay_loam", 1500.0)
    days = weather.generate_daily("2026-03-04", 17, seed=3)
    frame = weather.sensor_series(days, freq="15min", seed=3)
    frame = frame[frame.index <= NOW - pd.Timedelta(minutes=10)]
    tags = {"farm": FARM, "field": FIELD, "node": node}
    points = [
        Point(
            "readings",
            tags,
            {
                "air_temp": float(r.air_temp),
                "air_rh": float(r.air_rh),
                "rain": 0.0,
                "soil_vwc": MOIST,
            },
            int(t.timestamp() * 1000),
        )
        for t, r in frame.iterrows()
    ]
    store = open_store(settings.store)
    store.write(points)
    return settings, registry, store, tags


def _reading(store, tags, at: pd.Timestamp, vwc: float) -> int:  # type: ignore[no-untyped-def]
    ms = int(at.timestamp() * 1000)
    store.write([Point("readings", tags, {"soil_vwc": vwc, "air_temp": 24.0, "air_rh": 80.0}, ms)])
    return ms


def _irrigation_points(store) -> list:  # type: ignore[no-untyped-def]
    rows = store.rows("forecasts", {"field": FIELD, "kind": "irrigation"}, since_ms=0)
    return sorted(rows, key=lambda r: r.time_ms)


def test_a_reading_past_raw_changes_the_advice_at_the_next_poll(tmp_path: Path, influxdb) -> None:  # type: ignore[no-untyped-def]
    settings, registry, store, tags = _world(tmp_path, influxdb, "watch_reading")
    clock = Clock(1.0, NOW.timestamp(), time.time())  # the site's clock at NOW
    the = Watch(settings, registry, store, None, clock, refresh_s=3600.0)
    first = {a.kind: a for a in the.step()[0].advice}  # the whole farm at start
    assert first["irrigation"].level == 0
    written = _irrigation_points(store)
    assert len(written) == 1 and written[0].fields["reading_ms"] == the.seen_ms

    # the probe reads dry soil: the next poll forecasts the field again from that reading
    dry_ms = _reading(store, tags, NOW - pd.Timedelta(minutes=5), DRY)
    results = the.step()
    assert [r.planting.field for r in results] == [FIELD]
    irrigation = {a.kind: a for a in results[0].advice}["irrigation"]
    assert irrigation.level == 3 and irrigation.fields["days_ahead"] == 0
    assert irrigation.fields["reading_ms"] == dry_ms
    assert irrigation.fields["dr_mm"] > irrigation.fields["raw_mm"]
    written = _irrigation_points(store)
    assert len(written) == 2 and written[-1].fields["level"] == 3
    assert written[-1].fields["reading_ms"] == dry_ms

    assert the.step() == []  # no new reading: nothing to do
    # a new reading that changes nothing the farmer reads is not written again before refresh
    _reading(store, tags, NOW - pd.Timedelta(minutes=4), DRY)
    assert len(the.step()) == 1
    assert len(_irrigation_points(store)) == 2
    store.close()
    registry.close()


def test_the_advice_uses_the_weather_source_and_says_when_it_is_down(
    tmp_path: Path, influxdb
) -> None:  # type: ignore[no-untyped-def]
    server = openmeteo_local.start(0, clock=lambda: NOW.timestamp(), seed=4)
    try:
        settings, registry, store, _ = _world(
            tmp_path, influxdb, "watch_weather", weather_url=server.url
        )
        source = forecast_job.weather_source(settings)
        ahead = source(int(NOW.timestamp() * 1000))
        assert ahead is not None and ahead.error is None and ahead.daily is not None
        assert forecast_job.outlook_of(ahead) == "forecast"
        results = forecast_job.run(
            settings, registry, store, now=NOW.to_pydatetime(), weather=ahead
        )
        irrigation = {a.kind: a for a in results[0].advice}["irrigation"]
        assert irrigation.fields["outlook"] == "forecast"
        assert irrigation.fields["outlook_source"] == server.url.split("//")[1]
        # the outlook's rain is the source's: the generator's days from today on
        expected = float(np.nansum(ahead.daily["rain"].to_numpy()[:7]))
        assert irrigation.fields["rain_outlook_mm"] == pytest.approx(expected, abs=0.2)
        assert "Theo dự báo của" in render(irrigation.text, "vi")
    finally:
        server.close()

    # the source is gone and nothing is cached: no rain assumed, and the words say why
    dead = load_settings(
        write_config(
            tmp_path / "dead.toml",
            site_farm=FARM,
            store_url=settings.store_url,
            registry_url=settings.registry_url,
            weather_url=f"http://127.0.0.1:{free_port()}",
            weather_cache_dir=str(tmp_path / "empty-cache"),
        )
    )
    ahead = forecast_job.weather_source(dead)(int(NOW.timestamp() * 1000))
    assert ahead is not None and ahead.error and ahead.daily is None
    assert forecast_job.outlook_of(ahead) == "no-rain"
    results = forecast_job.run(dead, registry, store, now=NOW.to_pydatetime(), weather=ahead)
    irrigation = {a.kind: a for a in results[0].advice}["irrigation"]
    assert irrigation.fields["outlook"] == "no-rain"
    assert "Không lấy được dự báo thời tiết" in render(irrigation.text, "vi")
    assert "Could not get the weather forecast" in render(irrigation.text, "en")
    store.close()
    registry.close()


def test_recorded_irrigation_enters_the_balance(tmp_path: Path, influxdb) -> None:  # type: ignore[no-untyped-def]
    settings, registry, store, _ = _world(tmp_path, influxdb, "watch_records")
    at = NOW + pd.Timedelta(hours=6)  # the probe's last reading is then 6 h old: not fresh
    before = forecast_job.run(settings, registry, store, now=at.to_pydatetime())
    dr_before = {a.kind: a for a in before[0].advice}["irrigation"].fields["dr_mm"]
    field_id = next(f for f in _field_ids(registry) if f[1] == FIELD)[0]
    add_record(
        registry.engine,
        field_id,
        "irrigation",
        time=(NOW + pd.Timedelta(hours=2)).to_pydatetime(),
        amount_mm=float(dr_before),
    )
    after = forecast_job.run(settings, registry, store, now=at.to_pydatetime())
    irrigation = {a.kind: a for a in after[0].advice}["irrigation"]
    assert dr_before > 0 and irrigation.fields["dr_mm"] == 0.0
    store.close()
    registry.close()


def _field_ids(registry: Registry) -> list[tuple[int, str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from backend.schema import Field

    with Session(registry.engine) as session:
        return [(f.id, f.name) for f in session.scalars(select(Field))]
