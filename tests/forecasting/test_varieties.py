"""Delta rice varieties carry their seed sheets' durations, and a planting's crop is FAO-56
Table 11's rice row (crops.csv) scaled to the variety's duration in the season of its date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from forecasting import varieties
from forecasting.crops import Crop, kc_curve, load_crops
from forecasting.varieties import Variety, VarietyDataError, crop_for, load_varieties, season_of

# variety -> (spring range, summer range), days, from the seed companies' sheets (issue 16)
SHEETS = {
    "bac_thom_7": ((125, 135), (105, 110)),
    "khang_dan_18": ((135, 140), (105, 110)),
    "tbr225": ((120, 125), (105, 110)),
    "dai_thom_8": ((125, 130), (100, 105)),
}
SPRING_DAY, SUMMER_DAY = dt.date(2026, 2, 10), dt.date(2026, 7, 5)


@pytest.fixture(scope="module")
def library() -> dict[str, Variety]:
    return load_varieties()


@pytest.fixture(scope="module")
def crops() -> dict[str, Crop]:
    return load_crops()


def test_each_variety_has_its_sheets_durations_in_both_seasons(library) -> None:
    assert set(library) == set(SHEETS)
    for key, (spring, summer) in SHEETS.items():
        assert library[key].durations == {"spring": spring, "summer": summer}
        assert library[key].counted_from == "sowing"
    assert library["tbr225"].name_vi == "TBR225"
    assert library["bac_thom_7"].name_vi == "Bắc thơm số 7"
    assert library["dai_thom_8"].name_vi == "Đài thơm 8"


def test_every_value_names_the_seed_companys_sheet(library) -> None:
    for variety in library.values():
        assert set(variety.sources) >= {"name_vi", "counted_from", "spring_min_days"}
        assert all("sheet" in source for source in variety.sources.values()), variety.key
    assert "ThaiBinh Seed" in library["tbr225"].sources["spring_min_days"]
    assert "ThaiBinh Seed" in library["bac_thom_7"].sources["summer_max_days"]
    assert "Vinaseed" in library["khang_dan_18"].sources["spring_max_days"]


@pytest.mark.parametrize(
    ("key", "spring", "summer"),
    # mid-points, a half day rounded up
    [
        ("bac_thom_7", 130, 108),
        ("khang_dan_18", 138, 108),
        ("tbr225", 123, 108),
        ("dai_thom_8", 128, 103),
    ],
)
def test_a_season_lasts_the_mid_point_of_the_sheets_range(
    library, crops, key: str, spring: int, summer: int
) -> None:
    assert library[key].season_days("spring") == spring
    assert library[key].season_days("summer") == summer
    assert crop_for(key, SPRING_DAY, crops).season_days == spring
    assert crop_for(key, SUMMER_DAY, crops).season_days == summer


@pytest.mark.parametrize("key", sorted(SHEETS))
@pytest.mark.parametrize("planted", [SPRING_DAY, SUMMER_DAY])
def test_scaled_stages_sum_to_the_duration_in_table_11s_proportions(
    crops, key: str, planted: dt.date
) -> None:
    crop = crop_for(key, planted, crops)
    base = crops["rice_spring" if planted.month < 5 else "rice_summer"]
    stages = (crop.l_ini, crop.l_dev, crop.l_mid, crop.l_late)
    table_11 = (base.l_ini, base.l_dev, base.l_mid, base.l_late)
    assert sum(stages) == crop.season_days
    assert sum(stages) < base.season_days  # Delta varieties are shorter than the 150 d row
    for days, fao in zip(stages, table_11, strict=True):
        assert abs(days - fao * crop.season_days / base.season_days) < 1.0
    # the Kc curve (eq. 66) follows: Kc_mid on the first mid-season day, Kc_end on the last
    first_mid = crop.l_ini + crop.l_dev + 1
    assert kc_curve(crop, first_mid)[0] == pytest.approx(crop.kc_mid)
    assert kc_curve(crop, crop.season_days)[0] == pytest.approx(crop.kc_end)


def test_tbr225_in_spring_by_hand(crops) -> None:
    # 30/30/60/30 of 150 d scaled to 123 d: stage ends 24.6, 49.2, 98.4, 123 -> 25, 49, 98, 123
    crop = crop_for("tbr225", SPRING_DAY, crops)
    assert (crop.l_ini, crop.l_dev, crop.l_mid, crop.l_late) == (25, 24, 49, 25)
    assert "TBR225" in crop.sources["l_mid"] and "Table 11" in crop.sources["l_mid"]


def test_the_crop_stays_rice_and_its_names_carry_the_variety(crops) -> None:
    spring, summer = crop_for("tbr225", SPRING_DAY, crops), crop_for("tbr225", SUMMER_DAY, crops)
    assert (spring.key, summer.key) == ("rice_spring", "rice_summer")
    assert all(c.key.startswith("rice") for c in (spring, summer))
    assert spring.name_vi == "Lúa vụ xuân · TBR225"
    assert summer.name_en == "Rice (summer crop) · TBR225"
    # only the stages change: Kc, roots and p are still FAO-56 Tables 12 and 22's
    base = crops["rice_spring"]
    assert (spring.kc_ini, spring.kc_mid, spring.kc_end) == (base.kc_ini, base.kc_mid, base.kc_end)
    assert (spring.zr_max, spring.p) == (base.zr_max, base.p)


def test_crop_for_reads_the_packaged_libraries_by_default() -> None:
    assert crop_for("khang_dan_18", SUMMER_DAY).season_days == 108


@pytest.mark.parametrize(
    ("planted", "season"),
    [
        (dt.date(2026, 1, 1), "spring"),
        (dt.date(2026, 4, 30), "spring"),
        (dt.date(2026, 5, 1), "summer"),
        (dt.date(2026, 9, 30), "summer"),
    ],
)
def test_season_of_the_delta_calendars_boundaries(planted: dt.date, season: str) -> None:
    assert season_of(planted) == season


@pytest.mark.parametrize("planted", [dt.date(2026, 10, 1), dt.date(2026, 12, 31)])
def test_a_date_in_the_winter_crop_season_is_an_error_naming_it(planted: dt.date) -> None:
    with pytest.raises(ValueError, match=planted.isoformat()):
        season_of(planted)
    with pytest.raises(ValueError, match="neither Delta rice season"):
        crop_for("tbr225", planted)


def test_an_unknown_variety_names_the_known_ones(crops) -> None:
    with pytest.raises(ValueError, match="unknown rice variety 'ir64'") as caught:
        crop_for("ir64", SPRING_DAY, crops)
    assert "bac_thom_7, dai_thom_8, khang_dan_18, tbr225" in str(caught.value)
    with pytest.raises(ValueError, match="unknown season 'winter'"):
        load_varieties()["tbr225"].season_days("winter")


def _write(tmp_path: Path, *rows: str) -> Path:
    header = "# a comment\nvariety,parameter,value,source,note\n"
    good = [
        "x,name_vi,Giống X,sheet,",
        "x,name_en,Variety X,sheet,",
        "x,counted_from,sowing,sheet,",
        "x,spring_min_days,120,sheet,",
        "x,spring_max_days,125,sheet,",
        "x,summer_min_days,105,sheet,",
        "x,summer_max_days,110,sheet,",
    ]
    replaced = {row.split(",")[1] for row in rows}
    kept = [row for row in good if row.split(",")[1] not in replaced]
    path = tmp_path / "varieties.csv"
    path.write_text(header + "\n".join([*kept, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    variety = load_varieties(_write(tmp_path))["x"]
    assert variety.durations == {"spring": (120, 125), "summer": (105, 110)}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,spring_min_days,120.5,sheet,", r"line \d+ \(x, spring_min_days\): '120.5' is not"),
        ("x,spring_min_days,20,sheet,", "outside plausible range"),
        ("x,spring_min_days,130,sheet,", "spring 130 > 125 days"),
        ("x,counted_from,heading,sheet,", "'heading' is not one of"),
        ("x,summer_max_days,110,,", "no source cited"),
        ("x,harvest_index,0.5,sheet,", "unknown parameter"),
        ("x,summer_max_days,110,sheet,,extra", "fields, the header has 5"),
    ],
)
def test_a_bad_value_names_file_line_and_parameter(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(VarietyDataError, match=message):
        load_varieties(_write(tmp_path, row))


def test_a_duplicate_or_missing_value_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text(path.read_text() + "x,summer_max_days,111,sheet,\n", encoding="utf-8")
    with pytest.raises(VarietyDataError, match="duplicate value"):
        load_varieties(path)
    lines = _write(tmp_path).read_text().splitlines()
    path.write_text("\n".join(line for line in lines if "summer_min" not in line) + "\n")
    with pytest.raises(VarietyDataError, match=r"lacks \['summer_min_days'\]"):
        load_varieties(path)


def test_the_packaged_file_is_where_the_loader_looks() -> None:
    assert varieties.default_varieties_path().name == "rice_varieties.csv"
    assert varieties.default_varieties_path().is_file()
