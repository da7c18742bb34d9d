"""A rice field's season methane by IPCC 2019 Tier 1, against the same field continuously
flooded: the CH4 avoided by draining (AWD), in kg CH4 and t CO2e, with the tables' error ranges
carried through and every factor returned with its source.

Place in the data path: the season report (issue 17) takes the field's water regime from
`backend.report.water_regime.water_regime`, the field's area, its season dates and its
management record (pre-season water, organic amendments) and calls :func:`estimate` (pure).

Equations and tables: IPCC (2019), *2019 Refinement to the 2006 IPCC Guidelines for National
Greenhouse Gas Inventories*, Vol. 4, Ch. 5, section 5.5 (Rice cultivation):

- eq. 5.1: CH4 = EF x t x A (the equation is in Gg, with 10^-6; here kg, without it);
- eq. 5.2: EF = EFc x SFw x SFp x SFo (kg CH4 ha-1 d-1; the optional SFs,r for soil type and
  cultivar is not used: Tier 1 has no default for it);
- eq. 5.3: SFo = (1 + sum_i ROA_i x CFOA_i)^0.59, ROA in t ha-1 (dry weight for straw, fresh
  weight for the other amendments);
- Table 5.11: EFc, the baseline for continuously flooded fields without organic amendments,
  South-East Asia 1.22 (0.83-1.81) kg CH4 ha-1 d-1: :data:`EFC_SOUTH_EAST_ASIA`. Viet Nam is
  in the table's South-East Asia region (Vo et al. 2020, *Climate* 8(6): 74, compare their
  Vietnamese emission factors with "the IPCC defaults given for Southeast Asia");
- Table 5.12: SFw (`backend.report.water_regime.SFW`);
- Table 5.13: SFp, the water regime before the cultivation period: :data:`SFP`;
- Table 5.14: CFOA, each amendment's effect relative to straw incorporated shortly before
  cultivation: :data:`CFOA`.

t is the days from transplanting to harvest (issue 17), A the field's area (ha).

GWP100 of CH4: IPCC AR6 WG1 (2021), Ch. 7, Table 7.15, non-fossil methane 27.0 (the default,
as rice methane is biogenic); IPCC AR5 WG1 (2013), Ch. 8, Table 8.7, 28 (without
climate-carbon feedbacks), which some carbon standards still require: :data:`GWP100_CH4`.

Uncertainty: each range is the product of the factors' range ends (every factor at its low end
together, and at its high end together), the extreme bounds the tables allow, wider than the
95 % interval an error propagation (IPCC 2006 Vol. 1 Ch. 3, Approach 1) would give; no Monte
Carlo. The avoided CH4 is EFc x SFp x SFo x (1 - SFw) x t x A: the baseline's SFw is 1 by
definition (Table 5.12 is relative to continuously flooded fields), so the range of (1 - SFw)
is that of the drained regime's SFw alone, (1 - high, 1 - low), and zero for a field that was
continuously flooded. The GWP's own uncertainty (AR6: +-11) and eq. 5.3's exponent are not
carried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from backend.report.water_regime import SFW, SFW_SOURCE, Regime, ScalingFactor

_SECTION = "IPCC 2019 Refinement, Vol. 4, Ch. 5, section 5.5"
SFO_EXPONENT = 0.59  # IPCC 2019 Vol. 4 Ch. 5 eq. 5.3


class Factor(NamedTuple):
    """One factor of the estimate as the report prints it: name, value, error range, source."""

    name: str
    value: float
    range: tuple[float, float] | None
    source: str


EFC_SOUTH_EAST_ASIA = Factor(
    "EFc (kg CH4 ha-1 d-1)", 1.22, (0.83, 1.81), f"{_SECTION}, Table 5.11, South-East Asia"
)

# SFp by the water regime before the cultivation period, Table 5.13 (disaggregated case);
# pre-season flooding shorter than 30 days is not counted as flooded
_SFP_ROWS = {
    "non_flooded_lt_180d": ("non flooded pre-season < 180 d", ScalingFactor(1.00, 0.88, 1.12)),
    "non_flooded_gt_180d": ("non flooded pre-season > 180 d", ScalingFactor(0.89, 0.80, 0.99)),
    "flooded_gt_30d": ("flooded pre-season > 30 d", ScalingFactor(2.41, 2.13, 2.73)),
    "non_flooded_gt_365d": ("non-flooded pre-season > 365 d", ScalingFactor(0.59, 0.41, 0.84)),
}
SFP: dict[str, Factor] = {
    name: Factor("SFp", f.value, (f.low, f.high), f"{_SECTION}, Table 5.13, {label}")
    for name, (label, f) in _SFP_ROWS.items()
}
SFP_DEFAULT = "non_flooded_lt_180d"  # two rice crops a year: the Red River delta's practice

# CFOA by organic amendment, Table 5.14; its ROA is t ha-1 dry weight for straw, fresh for others
_CFOA_ROWS = {
    "straw_short": (
        "straw incorporated shortly (< 30 days) before cultivation",
        ScalingFactor(1.00, 0.85, 1.17),
    ),
    "straw_long": (
        "straw incorporated long (> 30 days) before cultivation",
        ScalingFactor(0.19, 0.11, 0.28),
    ),
    "compost": ("compost", ScalingFactor(0.17, 0.09, 0.29)),
    "farmyard_manure": ("farm yard manure", ScalingFactor(0.21, 0.15, 0.28)),
    "green_manure": ("green manure", ScalingFactor(0.45, 0.36, 0.57)),
}
CFOA: dict[str, Factor] = {
    name: Factor(f"CFOA {name}", f.value, (f.low, f.high), f"{_SECTION}, Table 5.14, {label}")
    for name, (label, f) in _CFOA_ROWS.items()
}

GWP100_CH4: dict[str, Factor] = {
    "ar6": Factor("GWP100 CH4", 27.0, None, "IPCC AR6 WG1 (2021), Table 7.15, non-fossil CH4"),
    "ar5": Factor("GWP100 CH4", 28.0, None, "IPCC AR5 WG1 (2013), Table 8.7"),
}


@dataclass(frozen=True)
class OrganicAmendment:
    """An organic amendment of the season: `kind`, a key of :data:`CFOA`, and its application
    rate ROA (t ha-1; dry weight for straw, fresh weight for the others: Table 5.14)."""

    kind: str
    rate_t_ha: float


@dataclass(frozen=True)
class MethaneEstimate:
    """One field's season CH4 by IPCC 2019 Tier 1 and what draining avoided.

    ch4_kg, baseline_ch4_kg: the season's CH4 as managed and continuously flooded (kg CH4);
    avoided_ch4_kg: their difference (kg CH4, >= 0); avoided_t_co2e: the avoided CH4 times
    GWP100 (t CO2e); each *_range: (low, high) from the tables' error ranges (module
    docstring); sfw, sfp, sfo: the scaling factors (dimensionless); efc: the baseline emission
    factor (kg CH4 ha-1 d-1); days: t (days); area_ha: A (ha); gwp100: the GWP used;
    factors: every factor with its range and source, in the order the report prints them.
    """

    water_regime: Regime
    ch4_kg: float
    ch4_range_kg: tuple[float, float]
    baseline_ch4_kg: float
    baseline_ch4_range_kg: tuple[float, float]
    avoided_ch4_kg: float
    avoided_ch4_range_kg: tuple[float, float]
    avoided_t_co2e: float
    avoided_t_co2e_range: tuple[float, float]
    sfw: float
    sfp: float
    sfo: float
    efc: float
    days: int
    area_ha: float
    gwp100: float
    factors: list[Factor]


def sfo(amendments: Sequence[OrganicAmendment] = ()) -> Factor:
    """SFo = (1 + sum ROA_i x CFOA_i)^0.59 (IPCC 2019 eq. 5.3, Table 5.14), with its range
    from the CFOA ranges; 1.00 without amendments."""
    total = low = high = 0.0
    for amendment in amendments:
        if amendment.kind not in CFOA:
            raise ValueError(f"unknown organic amendment {amendment.kind!r}: one of {list(CFOA)}")
        if amendment.rate_t_ha < 0:
            raise ValueError(f"a negative application rate: {amendment}")
        cfoa = _CFOA_ROWS[amendment.kind][1]
        total += amendment.rate_t_ha * cfoa.value
        low += amendment.rate_t_ha * cfoa.low
        high += amendment.rate_t_ha * cfoa.high
    value, span = _sfo(total), (_sfo(low), _sfo(high))
    return Factor("SFo", value, span, f"{_SECTION}, eq. 5.3 and Table 5.14")


def estimate(
    regime: Regime,
    days: int,
    area_ha: float,
    *,
    pre_season: str = SFP_DEFAULT,
    amendments: Sequence[OrganicAmendment] = (),
    efc: Factor = EFC_SOUTH_EAST_ASIA,
    gwp: str = "ar6",
) -> MethaneEstimate:
    """The season's CH4 (IPCC 2019 eq. 5.1, 5.2) and what it avoided against continuous flooding.

    regime: the season's water regime (`backend.report.water_regime`, Table 5.12).
    days: t, transplanting to harvest (days). area_ha: A, the field's area (ha).
    pre_season: the water regime before the season, a key of :data:`SFP` (Table 5.13).
    amendments: the season's organic amendments (Table 5.14, eq. 5.3).
    efc: the baseline emission factor (kg CH4 ha-1 d-1; Table 5.11 South-East Asia, or a
      country-specific one with its range).
    gwp: "ar6" (27, the default) or "ar5" (28), the GWP100 of CH4.
    """
    if days < 0 or area_ha < 0:
        raise ValueError(f"days and area_ha must be >= 0: {days}, {area_ha}")
    if pre_season not in SFP:
        raise ValueError(f"unknown pre-season water regime {pre_season!r}: one of {list(SFP)}")
    if gwp not in GWP100_CH4:
        raise ValueError(f"unknown GWP {gwp!r}: one of {list(GWP100_CH4)}")
    sfw_table = SFW[regime]
    sfw = Factor(
        f"SFw {regime.value}", sfw_table.value, (sfw_table.low, sfw_table.high), SFW_SOURCE
    )
    sfp, organic, gwp100 = SFP[pre_season], sfo(amendments), GWP100_CH4[gwp]
    efc_range = efc.range or (efc.value, efc.value)
    sfp_range = sfp.range or (sfp.value, sfp.value)
    sfo_range = organic.range or (organic.value, organic.value)
    ta = days * area_ha  # ha d

    def ch4(efc_kg: float, sfw_: float, sfp_: float, sfo_: float) -> float:
        return efc_kg * sfw_ * sfp_ * sfo_ * ta  # eq. 5.2 into eq. 5.1, kg CH4

    ch4_kg = ch4(efc.value, sfw.value, sfp.value, organic.value)
    ch4_range = (
        ch4(efc_range[0], sfw_table.low, sfp_range[0], sfo_range[0]),
        ch4(efc_range[1], sfw_table.high, sfp_range[1], sfo_range[1]),
    )
    baseline = ch4(efc.value, 1.0, sfp.value, organic.value)
    baseline_range = (
        ch4(efc_range[0], 1.0, sfp_range[0], sfo_range[0]),
        ch4(efc_range[1], 1.0, sfp_range[1], sfo_range[1]),
    )
    drained = regime is not Regime.CONTINUOUSLY_FLOODED
    # the avoided fraction 1 - SFw and its range (module docstring: Uncertainty)
    saved = 1.0 - sfw.value if drained else 0.0
    saved_range = (1.0 - sfw_table.high, 1.0 - sfw_table.low) if drained else (0.0, 0.0)
    avoided = ch4(efc.value, saved, sfp.value, organic.value)
    avoided_range = (
        ch4(efc_range[0], max(saved_range[0], 0.0), sfp_range[0], sfo_range[0]),
        ch4(efc_range[1], max(saved_range[1], 0.0), sfp_range[1], sfo_range[1]),
    )
    to_t_co2e = gwp100.value / 1000.0  # kg CH4 -> t CO2e
    amendment_factors = [
        Factor(f"ROA {a.kind} (t ha-1)", a.rate_t_ha, None, f"{_SECTION}, eq. 5.3")
        for a in amendments
    ]
    return MethaneEstimate(
        water_regime=regime,
        ch4_kg=ch4_kg,
        ch4_range_kg=ch4_range,
        baseline_ch4_kg=baseline,
        baseline_ch4_range_kg=baseline_range,
        avoided_ch4_kg=avoided,
        avoided_ch4_range_kg=avoided_range,
        avoided_t_co2e=avoided * to_t_co2e,
        avoided_t_co2e_range=(avoided_range[0] * to_t_co2e, avoided_range[1] * to_t_co2e),
        sfw=sfw.value,
        sfp=sfp.value,
        sfo=organic.value,
        efc=efc.value,
        days=days,
        area_ha=area_ha,
        gwp100=gwp100.value,
        factors=[
            efc,
            sfw,
            sfp,
            *[CFOA[a.kind] for a in amendments],
            *amendment_factors,
            organic,
            Factor("t (days)", float(days), None, f"{_SECTION}, eq. 5.1: transplanting to harvest"),
            Factor("A (ha)", area_ha, None, f"{_SECTION}, eq. 5.1: the field's area"),
            gwp100,
        ],
    )


def _sfo(organic_t_ha: float) -> float:
    """eq. 5.3 of a straw-equivalent amendment sum (t ha-1)."""
    return float((1.0 + organic_t_ha) ** SFO_EXPONENT)
