"""`ruong field` and `ruong forecast`: plantings, ET0 for researchers, the morning forecast
read from and written to a real InfluxDB."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend.i18n import Message, render
from backend.registry import Registry
from backend.store import Point, open_store
from forecasting import et0, weather
from forecasting.model import SoilMoistureForecaster, train
from forecasting.outlook import NO_RAIN_OUTLOOK
from forecasting.soils import load_soils
from ruong.cli import main
from tests.conftest import write_config

NOW = pd.Timestamp("2026-03-20 06:30", tz=weather.TIME_ZONE)


def config(tmp_path: Path, store_url: str, **extra: str) -> str:
    return str(
        write_config(
            tmp_path / "ruong.toml",
            site_farm="hop-tac-xa",
            store_url=store_url,
            registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
            **extra,
        )
    )


def test_plant_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.provision("hop-tac-xa", "ngo-1", "coap")
    registry.close()
    plant = ["--config", cfg, "field", "plant", "--field", "ngo-1", "--crop", "maize"]
    assert main([*plant, "--planted", "2026-02-10", "--area-m2", "1500"]) == 0
    # 20 + 35 + 40 + 30 = 125 days (FAO-56 Table 11) after 10 February
    assert "harvest about 2026-06-15" in capsys.readouterr().out
    # planting again replaces the season
    assert main([*plant, "--planted", "2026-02-12", "--soil", "clay", "--area-m2", "900"]) == 0
    assert main(["--config", cfg, "field", "list", "--json"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()[-1]
    assert listed == (
        '[{"farm": "hop-tac-xa", "field": "ngo-1", "crop": "maize", "planted": "2026-02-12", '
        '"soil": "clay", "area_m2": 900.0, "variety": null, "season_days": 125}]'
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crop", "coffee", "--planted", "2026-02-10"], "unknown crop 'coffee' (known: cabbage"),
        (["--crop", "maize", "--planted", "2026-02-10", "--soil", "loess"], "unknown soil 'loess'"),
        (["--crop", "maize", "--planted", "2026-02-10", "--area-m2", "0"], "positive number of m2"),
        (["--crop", "maize", "--planted", "10/02/2026"], "is not a date like 2026-02-10"),
    ],
)
def test_bad_planting_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.provision("hop-tac-xa", "ngo-1", "coap")
    registry.close()
    assert cli(["--config", cfg, "field", "plant", "--field", "ngo-1", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def cli(args: list[str]) -> int:
    """`ruong ARGS`'s exit code, including argparse's own usage errors (SystemExit)."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code)


def test_unknown_field_cannot_be_planted(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    code = main(
        [
            "--config",
            cfg,
            "field",
            "plant",
            "--field",
            "nowhere",
            "--crop",
            "maize",
            "--planted",
            "2026-02-10",
        ]
    )
    assert code == 2
    assert (
        "unknown field hop-tac-xa/nowhere: provision a node on it first" in capsys.readouterr().err
    )


def test_et0_csv_daily_reproduces_fao56_example_18(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FAO-56 Example 18 (Uccle, 6 July): ET0 = 3.9 mm/day, with Rs from the sunshine hours
    (Example 10: Rs = 22.07 MJ m-2 day-1) and u2 from 10 km/h at 10 m (eq. 47: 2.078 m/s)."""
    csv = tmp_path / "uccle.csv"
    csv.write_text(
        "date,tmin,tmax,rh_min,rh_max,u2,rs\n"
        "2026-07-06,12.3,21.5,63,84,2.078,22.07\n"
        "2026-07-07,12.3,21.5,63,84,2.078,\n"
    )
    code = main(["forecast", "et0", "--csv", str(csv), "--latitude", "50.8", "--elevation", "100"])
    assert code == 0
    out = capsys.readouterr()
    table = pd.read_csv(pd.io.common.StringIO(out.out), index_col="date")
    assert table.loc["2026-07-06", "et0_mm_per_day"] == pytest.approx(3.9, abs=0.05)
    assert not table.loc["2026-07-06", "rs_estimated"]
    assert table.loc["2026-07-07", "rs_estimated"]  # no rs: Hargreaves eq. 50, said so
    assert "1 of 2 days had no measured solar radiation" in out.err


def test_et0_csv_hourly_matches_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "hourly.csv"
    csv.write_text(
        "time,t,rh,u2,rs\n"
        "2026-10-01T02:00:00+07:00,24.1,92,1.2,0\n"
        "2026-10-01T14:00:00+07:00,32.5,58,2.9,2.6\n"
    )
    assert main(["forecast", "et0", "--csv", str(csv)]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    frame = pd.read_csv(csv)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")))
    expected = et0.hourly(frame, weather.LATITUDE, weather.LONGITUDE, weather.ELEVATION)
    assert table["et0_mm_per_h"].to_numpy() == pytest.approx(expected.round(3).to_numpy())
    assert table["et0_mm_per_h"].iloc[1] > 0.4 > table["et0_mm_per_h"].iloc[0]


def test_et0_csv_errors_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    csv = tmp_path / "bad.csv"
    csv.write_text("day,tmin\n2026-01-01,12\n")
    assert main(["forecast", "et0", "--csv", str(csv)]) == 2
    assert "needs a `date` (daily) or `time` (hourly) column" in capsys.readouterr().err
    csv.write_text("time,t,rh,u2,rs\n2026-10-01T02:00:00,24,92,1,0\n")
    assert main(["forecast", "et0", "--csv", str(csv)]) == 2
    assert "UTC offset" in capsys.readouterr().err
    assert main(["forecast", "et0", "--csv", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- the morning forecast on a real InfluxDB -----------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SoilMoistureForecaster]:
    """A small soil-moisture model for `run`'s outlook, trained once for this module."""
    directory = tmp_path_factory.mktemp("models")
    model = train(seasons=4, seed=3, error=NO_RAIN_OUTLOOK)
    model.save(directory)
    return directory, model


def field_readings(days: int, soil_vwc: float | None, water_level: float | None) -> pd.DataFrame:
    frame = weather.sensor_series(weather.generate_daily("2026-03-01", days, seed=5), "15min", 5)
    if soil_vwc is not None:
        frame["soil_vwc"] = soil_vwc + np.random.default_rng(1).normal(0, 0.2, len(frame))
    if water_level is not None:
        frame["water_level"] = water_level
    return frame[frame.index <= NOW]


def test_forecast_run_reads_influxdb_and_writes_forecasts(
    tmp_path: Path, influxdb, model_dir, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    directory, model = model_dir
    store_url = influxdb.url.rsplit("/", 1)[0] + "/forecast_run"
    cfg = config(tmp_path, store_url, forecast_model_dir=str(directory))
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    nodes = {f: registry.provision("hop-tac-xa", f, "coap").node for f in ("ngo-1", "lua-1")}
    soil = load_soils()["silty_clay_loam"]
    registry.plant("hop-tac-xa", "ngo-1", "maize", dt.date(2026, 2, 20), "silty_clay_loam", 1500)
    registry.plant("hop-tac-xa", "lua-1", "rice_spring", dt.date(2026, 3, 2), "clay", 2000)
    registry.close()
    dry = soil.theta_fc - 0.8 * soil.available_water  # past RAW: irrigate today
    store = open_store(store_url)
    for field, frame in (
        ("ngo-1", field_readings(20, dry * 100, None)),
        ("lua-1", field_readings(20, None, -0.17)),
    ):
        tags = {"farm": "hop-tac-xa", "field": field, "node": nodes[field]}
        store.write(
            [
                Point(
                    "readings", tags, {k: float(v) for k, v in row.items()}, int(t.value // 10**6)
                )
                for t, row in frame.iterrows()
            ]
        )

    code = main(["--config", cfg, "forecast", "run", "--now", NOW.isoformat(), "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Irrigate today" in out and "irrigate now to about 5 cm" in out

    rows = store.rows("forecasts", since_ms=int(NOW.timestamp() * 1000))
    store.close()
    assert {r.time_ms for r in rows} == {int(NOW.timestamp() * 1000)}
    kinds = {(r.tags["field"], r.tags["kind"]): r for r in rows}
    assert {("ngo-1", "irrigation"), ("ngo-1", "soil_vwc"), ("ngo-1", "et0")} <= set(kinds)
    assert {("lua-1", "awd"), ("lua-1", "pest_blast"), ("lua-1", "pest_bph")} <= set(kinds)
    irrigation = kinds[("ngo-1", "irrigation")]
    assert irrigation.tags["model"] == "fao56-ch8"
    assert irrigation.fields["level"] == 3
    stored = Message.from_json(json.loads(str(irrigation.fields["msg"])))
    assert stored.msgid == "advice.with_weather"
    assert stored.params["advice"].msgid == "irrigation.today"  # type: ignore[union-attr]
    assert render(stored, "vi").startswith("Tưới hôm nay")
    # no [weather] url: the words say the date assumes no rain
    assert "giả định trời không mưa" in render(stored, "vi")
    assert irrigation.fields["outlook"] == "no-rain"
    assert irrigation.fields["volume_m3"] == pytest.approx(
        irrigation.fields["gross_mm"] * 1.5, abs=0.1
    )
    moisture = kinds[("ngo-1", "soil_vwc")]
    assert moisture.tags["model"] == model.version
    for h in (6, 24, 72):
        lo, mid, hi = (moisture.fields[f"{p}_{h}h_pct"] for p in ("lo", "vwc", "hi"))
        assert lo <= mid <= hi
    assert kinds[("lua-1", "awd")].fields["action"] == "irrigate"
    assert kinds[("lua-1", "pest_blast")].tags["model"] == "rice.blast.lwd_temp.v1"


def test_forecast_run_for_an_unplanted_field_says_how_to_plant(
    tmp_path: Path, model_dir, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    directory, _ = model_dir
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", forecast_model_dir=str(directory))
    assert main(["--config", cfg, "forecast", "run", "--field", "ngo-9"]) == 2
    assert "ruong field plant --field ngo-9" in capsys.readouterr().err


def test_scouting_records_refine_a_pest_rule_and_print_its_skill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two rice fields' readings in the store, weekly blast scouting in a CSV: the command
    joins them, fits the calibrated classifier and prints the held-out table."""
    from forecasting import pest

    store_url = f"sqlite:///{tmp_path / 'r.db'}"
    cfg = config(tmp_path, store_url)
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    store = open_store(store_url)
    rng = np.random.default_rng(4)
    records = []
    for k, field in enumerate(("lua-1", "lua-2")):
        node = registry.provision("hop-tac-xa", field, "mqtt").node
        registry.plant("hop-tac-xa", field, "rice_summer", dt.date(2026, 6, 1), "clay", 1000)
        days = weather.generate_daily("2026-06-01", 70, seed=20 + k)
        frame = weather.sensor_series(days, "1h", seed=20 + k)
        tags = {"farm": "hop-tac-xa", "field": field, "node": node}
        store.write(
            [
                Point("readings", tags, {c: float(v) for c, v in row.items()}, t.value // 10**6)
                for t, row in frame.iterrows()
            ]
        )
        features = pest.daily_features(frame, pd.Timestamp("2026-06-01"))
        wet = features["blast_wet_hours_7d"].to_numpy()
        # scouted every other day; outbreaks follow a week's wetness, with noise
        outbreak = wet + rng.normal(0, 12, len(wet)) > np.nanmedian(wet)
        for date, sick in zip(features.index[8::2], outbreak[8::2], strict=True):
            records.append({"date": date.date(), "field": field, "incidence": 0.3 if sick else 0})
    registry.close()
    store.close()
    csv = tmp_path / "scouting.csv"
    pd.DataFrame(records).to_csv(csv, index=False)

    assert main(["--config", cfg, "forecast", "scouting", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "rule alone" in out and "refined" in out and "Brier" in out
    n_train = int(out.split("trained on ")[1].split()[0])
    n_test = int(out.split("tested on ")[1].split()[0])
    assert n_train + n_test == len(records)

    pd.DataFrame(records).drop(columns="incidence").to_csv(csv, index=False)
    assert main(["--config", cfg, "forecast", "scouting", "--csv", str(csv)]) == 2
    assert "missing column(s) incidence" in capsys.readouterr().err
