"""IPCC 2019 Tier 1 rice methane: the figures equal eq. 5.1-5.3 worked by hand to the gram,
draining never adds methane, every range holds its value, and every factor names its table.

No worked example with numbers was found in the IPCC 2019 Refinement's section 5.5 to test
against; the expected values below are the equations written out with the tables' numbers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.report import methane
from backend.report import water_regime as wr
from backend.report.methane import OrganicAmendment
from backend.report.water_regime import Regime

GRAM = 1e-3  # kg


def test_a_continuously_flooded_field_with_straw_equals_the_equation() -> None:
    # 1.5 ha, 105 days, 5 t/ha straw (dry) incorporated 2 weeks before transplanting
    result = methane.estimate(
        Regime.CONTINUOUSLY_FLOODED, 105, 1.5, amendments=[OrganicAmendment("straw_short", 5.0)]
    )
    sfo = (1 + 5.0 * 1.00) ** 0.59  # eq. 5.3, Table 5.14: 2.8782
    expected = 1.22 * 1.00 * 1.00 * sfo * 105 * 1.5  # eq. 5.2 into eq. 5.1: 553.03 kg
    assert result.ch4_kg == pytest.approx(expected, abs=GRAM)
    assert result.ch4_kg == pytest.approx(553.031, abs=0.001)
    assert result.baseline_ch4_kg == pytest.approx(expected, abs=GRAM)
    assert result.avoided_ch4_kg == 0.0 and result.avoided_t_co2e == 0.0
    assert result.avoided_ch4_range_kg == (0.0, 0.0)
    assert (result.sfw, result.sfp, result.efc, result.days, result.area_ha) == (
        1.0,
        1.0,
        1.22,
        105,
        1.5,
    )
    assert result.sfo == pytest.approx(sfo)


def test_awd_with_mixed_amendments_and_flooded_pre_season_equals_the_equation() -> None:
    amendments = [OrganicAmendment("straw_long", 4.0), OrganicAmendment("farmyard_manure", 8.0)]
    result = methane.estimate(
        Regime.MULTIPLE_DRAINAGE, 98, 0.36, pre_season="flooded_gt_30d", amendments=amendments
    )
    sfo = (1 + 4.0 * 0.19 + 8.0 * 0.21) ** 0.59
    per_day = 1.22 * 2.41 * sfo * 98 * 0.36  # kg CH4 for SFw = 1
    assert result.ch4_kg == pytest.approx(per_day * 0.55, abs=GRAM)
    assert result.baseline_ch4_kg == pytest.approx(per_day, abs=GRAM)
    assert result.avoided_ch4_kg == pytest.approx(per_day * (1 - 0.55), abs=GRAM)
    assert result.avoided_t_co2e == pytest.approx(per_day * 0.45 * 27 / 1000, abs=1e-6)
    assert result.sfo == pytest.approx(sfo) and result.sfp == 2.41


def test_avoided_co2e_with_the_ar6_or_the_ar5_gwp() -> None:
    ar6 = methane.estimate(Regime.SINGLE_DRAINAGE, 100, 1.0)
    ar5 = methane.estimate(Regime.SINGLE_DRAINAGE, 100, 1.0, gwp="ar5")
    avoided_kg = 1.22 * (1 - 0.71) * 100 * 1.0  # 35.38 kg CH4
    assert ar6.avoided_ch4_kg == pytest.approx(avoided_kg, abs=GRAM)
    assert ar6.avoided_t_co2e == pytest.approx(avoided_kg * 27 / 1000)  # 0.955 t
    assert ar5.avoided_t_co2e == pytest.approx(avoided_kg * 28 / 1000)  # 0.991 t
    assert (ar6.gwp100, ar5.gwp100) == (27.0, 28.0)
    assert ar5.avoided_ch4_kg == ar6.avoided_ch4_kg


def test_ranges_are_the_products_of_the_range_ends() -> None:
    result = methane.estimate(Regime.SINGLE_DRAINAGE, 100, 2.0)
    ta = 100 * 2.0
    assert result.ch4_range_kg == pytest.approx((0.83 * 0.53 * 0.88 * ta, 1.81 * 0.94 * 1.12 * ta))
    assert result.baseline_ch4_range_kg == pytest.approx((0.83 * 0.88 * ta, 1.81 * 1.12 * ta))
    # the avoided fraction 1 - SFw runs from 1 - 0.94 to 1 - 0.53
    low, high = 0.83 * 0.06 * 0.88 * ta, 1.81 * 0.47 * 1.12 * ta
    assert result.avoided_ch4_range_kg == pytest.approx((low, high))
    assert result.avoided_t_co2e_range == pytest.approx((low * 0.027, high * 0.027))


def test_sfo_and_its_range_from_table_5_14() -> None:
    assert methane.sfo().value == 1.0 and methane.sfo().range == (1.0, 1.0)
    compost = methane.sfo([OrganicAmendment("compost", 10.0)])
    assert compost.value == pytest.approx(2.7**0.59)
    assert compost.range == pytest.approx((1.9**0.59, 3.9**0.59))
    green = methane.sfo([OrganicAmendment("green_manure", 2.0)])
    assert green.value == pytest.approx(1.9**0.59)


def test_every_factor_is_returned_with_its_table() -> None:
    result = methane.estimate(
        Regime.MULTIPLE_DRAINAGE, 100, 1.0, amendments=[OrganicAmendment("compost", 3.0)]
    )
    by_name = {f.name: f for f in result.factors}
    assert by_name["EFc (kg CH4 ha-1 d-1)"].range == (0.83, 1.81)
    assert "Table 5.11, South-East Asia" in by_name["EFc (kg CH4 ha-1 d-1)"].source
    assert by_name["SFw multiple_drainage"].value == 0.55
    assert "Table 5.12" in by_name["SFw multiple_drainage"].source
    assert "Table 5.13" in by_name["SFp"].source and by_name["SFp"].range == (0.88, 1.12)
    assert by_name["CFOA compost"].value == 0.17 and "Table 5.14" in by_name["CFOA compost"].source
    assert by_name["ROA compost (t ha-1)"].value == 3.0
    assert "eq. 5.3" in by_name["SFo"].source
    assert by_name["t (days)"].value == 100 and by_name["A (ha)"].value == 1.0
    assert "Table 7.15" in by_name["GWP100 CH4"].source
    assert all(f.source.startswith("IPCC") for f in result.factors)


def test_a_country_specific_efc_replaces_the_regional_default() -> None:
    north_vietnam = methane.Factor("EFc (kg CH4 ha-1 d-1)", 2.21, (1.5, 3.0), "Vo et al. 2020")
    result = methane.estimate(Regime.SINGLE_DRAINAGE, 100, 1.0, efc=north_vietnam)
    assert result.ch4_kg == pytest.approx(2.21 * 0.71 * 100, abs=GRAM)
    assert result.factors[0] is north_vietnam


def test_unknown_names_and_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="pre-season"):
        methane.estimate(Regime.SINGLE_DRAINAGE, 100, 1.0, pre_season="wet")
    with pytest.raises(ValueError, match="organic amendment"):
        methane.estimate(Regime.SINGLE_DRAINAGE, 100, 1.0, amendments=[OrganicAmendment("ash", 1)])
    with pytest.raises(ValueError, match="GWP"):
        methane.estimate(Regime.SINGLE_DRAINAGE, 100, 1.0, gwp="ar4")
    with pytest.raises(ValueError, match=">= 0"):
        methane.estimate(Regime.SINGLE_DRAINAGE, -1, 1.0)
    with pytest.raises(ValueError, match="negative"):
        methane.sfo([OrganicAmendment("compost", -1.0)])


def test_an_awd_season_from_its_water_level_to_its_methane() -> None:
    planted, harvested = dt.date(2026, 2, 1), dt.date(2026, 5, 22)
    index = pd.date_range(pd.Timestamp(planted, tz="Asia/Ho_Chi_Minh"), periods=110 * 24, freq="1h")
    day = np.asarray((index - index[0]) / pd.Timedelta(days=1))
    level = np.where(
        ((day % 20) >= 10) & ((day % 20) < 15) & (day < 80), -0.18, 0.05
    )  # drained days 10-15, 30-35, 50-55 and 70-75 at -18 cm
    level = np.where(day >= 100, -0.10, level)
    regime = wr.water_regime(pd.Series(level, index=index), planted, harvested)
    assert regime.water_regime is Regime.MULTIPLE_DRAINAGE and regime.dry_downs_15cm == 4
    result = methane.estimate(regime.water_regime, regime.season_days, 0.5)
    assert result.ch4_kg == pytest.approx(1.22 * 0.55 * 110 * 0.5, abs=GRAM)
    assert result.avoided_ch4_kg == pytest.approx(1.22 * 0.45 * 110 * 0.5, abs=GRAM)


_AMENDMENT = st.builds(
    OrganicAmendment, st.sampled_from(sorted(methane.CFOA)), st.floats(0.0, 20.0)
)


@settings(max_examples=200, deadline=None)
@given(
    regime=st.sampled_from(list(Regime)),
    days=st.integers(0, 200),
    area_ha=st.floats(0.0, 50.0),
    pre_season=st.sampled_from(sorted(methane.SFP)),
    amendments=st.lists(_AMENDMENT, max_size=3),
    gwp=st.sampled_from(["ar6", "ar5"]),
)
def test_any_season_avoids_no_negative_methane_and_stays_in_its_ranges(
    regime: Regime,
    days: int,
    area_ha: float,
    pre_season: str,
    amendments: list[OrganicAmendment],
    gwp: str,
) -> None:
    result = methane.estimate(
        regime, days, area_ha, pre_season=pre_season, amendments=amendments, gwp=gwp
    )
    tol = 1e-9 * max(1.0, result.baseline_ch4_kg)
    assert result.avoided_ch4_kg >= 0.0 and result.avoided_t_co2e >= 0.0
    assert result.ch4_kg <= result.baseline_ch4_kg + tol
    assert result.baseline_ch4_kg == pytest.approx(result.ch4_kg + result.avoided_ch4_kg)
    for value, (low, high) in (
        (result.ch4_kg, result.ch4_range_kg),
        (result.baseline_ch4_kg, result.baseline_ch4_range_kg),
        (result.avoided_ch4_kg, result.avoided_ch4_range_kg),
        (result.avoided_t_co2e, result.avoided_t_co2e_range),
    ):
        assert 0.0 <= low <= value + tol and value <= high + tol
