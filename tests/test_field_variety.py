"""`ruong field plant --variety V`: a farmer names the rice variety, the season comes from the
date, and the harvest from the variety's duration; the registry keeps the variety (migration
0004, up and down on SQLite)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from backend import db
from backend.registry import PlantingInfo, Registry, RegistryError
from ruong.cli import main
from tests.conftest import write_config

FARM, FIELD = "hop-tac-xa", "lua-1"


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with Registry(url) as registry:
        registry.provision(FARM, FIELD, "coap")
    return url


@pytest.fixture
def cfg(tmp_path: Path, registry_url: str) -> str:
    return str(
        write_config(
            tmp_path / "ruong.toml",
            site_farm=FARM,
            store_url=f"sqlite:///{tmp_path / 'readings.db'}",
            registry_url=registry_url,
        )
    )


def plant(cfg: str, *args: str) -> int:
    """`ruong field plant --field lua-1 ARGS`'s exit code, argparse's usage errors included."""
    try:
        return main(["--config", cfg, "field", "plant", "--field", FIELD, *args])
    except SystemExit as exc:
        return int(exc.code or 0)


def test_a_variety_picks_the_season_and_the_harvest_from_the_date(
    cfg: str, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plant(cfg, "--variety", "tbr225", "--planted", "2026-02-10") == 0
    out = capsys.readouterr().out
    # TBR225 in spring: 120-125 days (ThaiBinh Seed) -> 123 days after 10 February
    assert "harvest about 2026-06-13" in out
    assert "Lúa vụ xuân · TBR225" in out and "variety tbr225: 123 days from sowing" in out
    with Registry(registry_url) as registry:
        assert registry.plantings() == [
            PlantingInfo(
                FARM,
                FIELD,
                "rice_spring",
                dt.date(2026, 2, 10),
                "silty_clay_loam",
                1000.0,
                "tbr225",
                123,  # the season's length, which dates the harvest for the season report
            )
        ]

    # the same variety in the summer season: 105-110 days -> 108 after 5 July
    assert plant(cfg, "--variety", "tbr225", "--planted", "2026-07-05") == 0
    assert "harvest about 2026-10-21" in capsys.readouterr().out
    with Registry(registry_url) as registry:
        [summer] = registry.plantings()
    assert (summer.crop, summer.variety) == ("rice_summer", "tbr225")


def test_a_crop_that_agrees_with_the_season_is_accepted(
    cfg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        plant(cfg, "--variety", "khang_dan_18", "--crop", "rice_summer", "--planted", "2026-06-20")
        == 0
    )
    assert "harvest about 2026-10-06" in capsys.readouterr().out  # 105-110 -> 108 days


def test_a_crop_that_contradicts_the_season_names_both(
    cfg: str, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = plant(cfg, "--variety", "tbr225", "--crop", "rice_summer", "--planted", "2026-02-10")
    assert code == 2
    err = capsys.readouterr().err
    assert "--crop rice_summer contradicts --planted 2026-02-10" in err
    assert "spring rice season: rice_spring" in err and "Traceback" not in err
    with Registry(registry_url) as registry:
        assert registry.plantings() == []  # nothing recorded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variety", "ir64", "--planted", "2026-02-10"], "unknown rice variety 'ir64' (known: "),
        (["--variety", "tbr225", "--planted", "2026-11-02"], "2026-11-02 is in neither"),
        (["--variety", "tbr225", "--planted", "2026-02-10", "--soil", "loess"], "unknown soil"),
        (["--planted", "2026-02-10"], "give --crop (e.g. maize), or --variety for rice"),
    ],
)
def test_a_bad_variety_planting_is_one_clear_line(
    cfg: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert plant(cfg, *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_without_a_variety_the_crop_is_table_11s(
    cfg: str, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plant(cfg, "--crop", "rice_spring", "--planted", "2026-02-10") == 0
    out = capsys.readouterr().out
    assert "harvest about 2026-07-10" in out and "variety" not in out  # 150 d, FAO-56 Table 11
    with Registry(registry_url) as registry:
        assert registry.plantings()[0].variety is None


def test_the_list_shows_the_variety(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert plant(cfg, "--variety", "bac_thom_7", "--planted", "2026-02-01") == 0
    capsys.readouterr()
    assert main(["--config", cfg, "field", "list"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split()[:4] == [f"{FARM}/{FIELD}", "rice_spring", "bac_thom_7", "2026-02-01"]
    assert main(["--config", cfg, "field", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["crop"], listed["variety"]) == ("rice_spring", "bac_thom_7")


def test_the_registry_refuses_a_variety_that_is_not_a_name(registry_url: str) -> None:
    with Registry(registry_url) as registry, pytest.raises(RegistryError, match="variety"):
        registry.plant(FARM, FIELD, "rice_spring", dt.date(2026, 2, 1), "clay", 10.0, "x" * 33)


def _migrate(url: str, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    engine = db.create(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def _planting_columns(url: str) -> list[str]:
    engine = db.create(url)
    try:
        return [c["name"] for c in inspect(engine).get_columns("plantings")]
    finally:
        engine.dispose()


def test_migration_0004_adds_the_variety_and_takes_it_away_keeping_the_plantings(
    registry_url: str,
) -> None:
    with Registry(registry_url) as registry:
        registry.plant(FARM, FIELD, "rice_spring", dt.date(2026, 2, 1), "clay", 800.0, "tbr225")
    _migrate(registry_url, "downgrade", "0003")
    assert not {"variety", "season_days"} & set(_planting_columns(registry_url))
    engine = db.create(registry_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT crop, soil, area_m2 FROM plantings")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("rice_spring", "clay", 800.0)]

    _migrate(registry_url, "upgrade", "head")
    assert _planting_columns(registry_url)[-2:] == ["variety", "season_days"]
    with Registry(registry_url) as registry:
        [before] = registry.plantings()  # a planting of before 0004: no variety, no length
        assert (before.crop, before.area_m2, before.variety) == ("rice_spring", 800.0, None)
        assert before.season_days is None


def test_the_forecast_follows_the_variety_s_stage_dates() -> None:
    """A TBR225 spring planting: the AWD calendar and its flowering window come from the
    variety's 123 days, not FAO-56's 150-day row (forecasting.varieties, ruong.forecast_job)."""

    from forecasting.advice import flowering_window
    from forecasting.awd import AwdSchedule
    from forecasting.varieties import load_varieties
    from ruong.forecast_job import planting_of

    planted = dt.date(2026, 2, 1)
    info = PlantingInfo(FARM, FIELD, "rice_spring", planted, "silty_clay_loam", 1000.0, "tbr225")
    planting = planting_of(info)
    days = load_varieties()["tbr225"].season_days("spring")
    assert planting.crop.season_days == days and planting.crop.key == "rice_spring"
    window = flowering_window(planting, AwdSchedule.for_crop(planting.crop))
    assert window is not None
    # flowering = harvest - 30 days (Yoshida 1981), kept ponded 7 days either side
    assert window[0] == planted + dt.timedelta(days=days - 30 - 7)
    plain = planting_of(PlantingInfo(FARM, FIELD, "rice_spring", planted, "silty_clay_loam", 1e3))
    assert plain.crop.season_days == 150 and days < 150
    with pytest.raises(RegistryError, match="unknown|known"):
        planting_of(
            PlantingInfo(FARM, FIELD, "rice_spring", planted, "silty_clay_loam", 1e3, "ir64")
        )
