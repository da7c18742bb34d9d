"""The crops and soils library carries FAO-56's values, cites each, and rejects bad files.

Values are FAO-56 (Allen et al. 1998) Tables 11, 12, 19 and 22; the Kc curve follows eq. 66
and the climatic adjustment eq. 62 / 65.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from forecasting import crops, soils
from forecasting.crops import Crop, CropDataError
from forecasting.soils import SoilDataError

CROP_IDS = {"rice_spring", "rice_summer", "maize", "cabbage", "tomato"}


@pytest.fixture(scope="module")
def library() -> dict[str, Crop]:
    return crops.load_crops()


def _crop(**overrides: object) -> Crop:
    base = Crop(
        key="test",
        name_en="test",
        name_vi="thử",
        kc_ini=0.15,
        kc_mid=1.19,
        kc_end=0.35,
        l_ini=25,
        l_dev=25,
        l_mid=30,
        l_late=20,
        zr_min=0.6,
        zr_max=0.9,
        p=0.45,
        h_max=0.4,
        plant_month=5,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


# --- the packaged data ----------------------------------------------------------------------


def test_library_has_both_rice_seasons_maize_and_two_delta_vegetables(library) -> None:
    assert set(library) == CROP_IDS
    assert library["rice_spring"].plant_month == 2  # vụ xuân: transplant ~Feb
    assert library["rice_summer"].plant_month == 7  # vụ mùa: transplant ~July
    assert library["rice_spring"].name_vi == "Lúa vụ xuân"


@pytest.mark.parametrize(
    ("crop", "kc", "stages", "zr", "p"),
    [
        ("rice_spring", (1.05, 1.20, 0.75), (30, 30, 60, 30), (0.5, 1.0), 0.20),
        ("rice_summer", (1.05, 1.20, 0.75), (30, 30, 60, 30), (0.5, 1.0), 0.20),
        ("maize", (0.30, 1.20, 0.60), (20, 35, 40, 30), (1.0, 1.7), 0.55),
        ("cabbage", (0.70, 1.05, 0.95), (25, 35, 25, 10), (0.5, 0.8), 0.45),
        ("tomato", (0.60, 1.15, 0.80), (30, 40, 40, 25), (0.7, 1.5), 0.40),
    ],
)
def test_values_are_fao56_tables_11_12_22(library, crop, kc, stages, zr, p) -> None:
    c = library[crop]
    assert (c.kc_ini, c.kc_mid, c.kc_end) == kc
    assert (c.l_ini, c.l_dev, c.l_mid, c.l_late) == stages
    assert (c.zr_min, c.zr_max) == zr
    assert c.p == p


def test_every_crop_value_cites_its_fao56_table(library) -> None:
    for crop in library.values():
        for name in ("kc_ini", "kc_mid", "kc_end", "h_max"):
            assert crop.sources[name].startswith("FAO-56 Table 12"), (crop.key, name)
        for name in ("l_ini", "l_dev", "l_mid", "l_late"):
            assert crop.sources[name].startswith("FAO-56 Table 11"), (crop.key, name)
        for name in ("zr_min", "zr_max", "p"):
            assert crop.sources[name].startswith("FAO-56 Table 22"), (crop.key, name)
    assert "midpoint of 0.90-0.60" in library["rice_spring"].sources["kc_end"]


def test_soils_are_fao56_table_19_midpoints() -> None:
    lib = soils.load_soils()
    assert set(lib) == {"clay", "silty_clay", "silty_clay_loam", "silt_loam", "sandy_loam"}
    expected = {  # (FC range, WP range) from FAO-56 Table 19
        "clay": ((0.32, 0.40), (0.20, 0.24)),
        "silty_clay": ((0.30, 0.42), (0.17, 0.29)),
        "silty_clay_loam": ((0.30, 0.37), (0.17, 0.24)),
        "silt_loam": ((0.22, 0.36), (0.09, 0.21)),
        "sandy_loam": ((0.18, 0.28), (0.06, 0.16)),
    }
    for texture, (fc, wp) in expected.items():
        soil = lib[texture]
        assert soil.theta_fc == pytest.approx(sum(fc) / 2)
        assert soil.theta_wp == pytest.approx(sum(wp) / 2)
        assert soil.source.startswith("FAO-56 Table 19")
        assert 0 < soil.available_water < 0.2


def test_get_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="rice_spring"):
        crops.get_crop("durian")
    with pytest.raises(KeyError, match="silt_loam"):
        soils.get_soil("peat")
    assert crops.get_crop("maize").key == "maize"
    assert soils.get_soil("clay").theta_fc == 0.36


# --- validation names the file and line ---------------------------------------------------------


def _crops_file(tmp_path: Path, replace: tuple[str, str] | None = None, drop: str = "") -> Path:
    text = crops.default_crops_path().read_text(encoding="utf-8")
    if replace:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    if drop:
        text = "".join(line for line in text.splitlines(True) if not line.startswith(drop))
    path = tmp_path / "crops.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(path: Path, start: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(start):
            return number
    raise AssertionError(start)


def test_a_non_number_names_file_line_crop_and_parameter(tmp_path: Path) -> None:
    path = _crops_file(tmp_path, ("maize,kc_mid,1.20", "maize,kc_mid,1.2O"))
    line = _line_of(path, "maize,kc_mid")
    with pytest.raises(CropDataError, match=rf"crops.csv line {line} \(maize, kc_mid\): '1.2O'"):
        crops.load_crops(path)


def test_a_stray_comma_is_caught_not_shifted_into_the_next_column(tmp_path: Path) -> None:
    path = _crops_file(tmp_path, ("maize,kc_mid,1.20", "maize,kc_mid,1,20"))
    line = _line_of(path, "maize,kc_mid")
    with pytest.raises(CropDataError, match=rf"crops.csv line {line}: 6 fields, the header has 5"):
        crops.load_crops(path)


def test_an_implausible_value_is_rejected(tmp_path: Path) -> None:
    path = _crops_file(tmp_path, ("tomato,p,0.40", "tomato,p,4.0"))
    with pytest.raises(CropDataError, match=r"\(tomato, p\): 4.0 outside plausible range"):
        crops.load_crops(path)


def test_a_missing_parameter_or_source_or_duplicate_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CropDataError, match=r"crop 'cabbage' lacks \['l_mid'\]"):
        crops.load_crops(_crops_file(tmp_path, drop="cabbage,l_mid"))
    with pytest.raises(CropDataError, match=r"\(cabbage, p\): no source cited"):
        crops.load_crops(
            _crops_file(tmp_path, ("cabbage,p,0.45,FAO-56 Table 22", "cabbage,p,0.45,"))
        )
    with pytest.raises(CropDataError, match=r"\(maize, kc_ini\): duplicate value"):
        crops.load_crops(_crops_file(tmp_path, ("maize,kc_mid,1.20", "maize,kc_ini,0.3")))
    with pytest.raises(CropDataError, match=r"unknown parameter"):
        crops.load_crops(_crops_file(tmp_path, ("maize,kc_mid,", "maize,kc_max,")))


def test_bad_soil_rows_name_file_and_line(tmp_path: Path) -> None:
    text = soils.default_soils_path().read_text(encoding="utf-8")
    path = tmp_path / "soils.csv"
    path.write_text(text.replace("clay,Đất sét,0.36,0.22", "clay,Đất sét,0.36,0.40"), "utf-8")
    line = _line_of(path, "clay,")
    with pytest.raises(SoilDataError, match=rf"soils.csv line {line} \(clay\): theta_wp"):
        soils.load_soils(path)
    path.write_text(text.replace("sandy_loam,Đất thịt pha cát,0.23", "sandy_loam,x,abc"), "utf-8")
    with pytest.raises(SoilDataError, match=r"\(sandy_loam\): theta_fc 'abc' is not a number"):
        soils.load_soils(path)


# --- Kc curve (FAO-56 eq. 66, Fig. 25) -------------------------------------------------------------


def test_kc_curve_eq66_numerical_example() -> None:
    """FAO-56's numerical Kc example (eq. 66): Kc_ini 0.15, Kc_mid 1.19, Kc_end 0.35,
    stages 25/25/30/20 days; Kc on days 20, 40, 70 and 95 is 0.15, 0.77, 1.19 and 0.56."""
    kc = crops.kc_curve(_crop(), [20, 40, 70, 95])
    assert np.round(kc, 2).tolist() == [0.15, 0.77, 1.19, 0.56]


def test_kc_curve_stage_boundaries_and_outside_season() -> None:
    c = _crop()
    kc = crops.kc_curve(c, [0, 1, 25, 26, 50, 51, 80, 81, 100, 101])
    assert np.isnan(kc[0]) and np.isnan(kc[-1])
    assert kc[1] == kc[2] == 0.15  # initial stage is flat
    assert kc[3] == pytest.approx(0.15 + (1.19 - 0.15) / 25)  # first development day
    assert kc[4] == kc[5] == kc[6] == 1.19  # end of development .. mid-season
    assert kc[7] == pytest.approx(1.19 + (0.35 - 1.19) / 20)
    assert kc[8] == pytest.approx(0.35)  # last day reaches Kc_end
    assert [crops.stage_of_day(c, d) for d in (1, 25, 26, 51, 80, 81, 100)] == [
        "initial",
        "initial",
        "development",
        "mid",
        "mid",
        "late",
        "late",
    ]
    with pytest.raises(ValueError, match="outside"):
        crops.stage_of_day(c, 101)


def test_climatic_adjustment_eq62_hand_computed() -> None:
    # 1.15 + [0.04 (3 - 2) - 0.004 (30 - 45)] (0.6 / 3) ** 0.3 = 1.15 + 0.10 * 0.6170 = 1.2117
    assert crops.adjust_kc_for_climate(1.15, 3.0, 30.0, 0.6) == pytest.approx(1.2117, abs=1e-4)
    # the standard climate of Table 12 (u2 = 2, RHmin = 45) leaves Kc unchanged
    assert crops.adjust_kc_for_climate(1.20, 2.0, 45.0, 2.0) == pytest.approx(1.20)
    # humid, calm Red River Delta spring: Kc drops (RHmin 70 %, u2 1.5 m/s, rice 1 m)
    humid = crops.adjust_kc_for_climate(1.20, 1.5, 70.0, 1.0)
    assert humid == pytest.approx(1.20 + (0.04 * -0.5 - 0.004 * 25) * (1 / 3) ** 0.3)
    # inputs beyond eq. 62's range are limited to it (u2 1-6, RHmin 20-80, h 0.1-10)
    assert crops.adjust_kc_for_climate(1.0, 9.0, 5.0, 20.0) == pytest.approx(
        crops.adjust_kc_for_climate(1.0, 6.0, 20.0, 10.0)
    )


def test_crop_adjusted_skips_kc_end_below_045(library) -> None:
    rice = library["rice_spring"].adjusted(u2=3.0, rh_min=30.0)
    assert rice.kc_mid > 1.20 and rice.kc_end > 0.75  # both adjusted (Kc_end 0.75 >= 0.45)
    low_end = _crop(kc_end=0.35).adjusted(u2=3.0, rh_min=30.0)
    assert low_end.kc_end == 0.35  # eq. 65 applies only to Kc_end >= 0.45


def test_scaled_to_local_variety_keeps_proportions_and_total(library) -> None:
    rice = library["rice_summer"].scaled_to(110)
    assert rice.season_days == 110
    assert (rice.l_ini, rice.l_dev, rice.l_mid, rice.l_late) == (22, 22, 44, 22)
    assert dataclasses.replace(rice, key="x").kc_mid == 1.20
    with pytest.raises(ValueError):
        rice.scaled_to(2)
