"""Skill of the soil-moisture model on held-out seasons, against persistence and FAO-56.

Place in the data path: the last step, off the live path. `ruong forecast backtest` scores a
model (`forecasting.model`) on simulated seasons it never saw (`forecasting.seasons`) and
prints :meth:`Backtest.to_text`; `--save` keeps the table in the model's metadata. Run as a
module, this file regenerates the results quoted in docs/forecasting.md:

    .venv/bin/python -m forecasting.backtest --write-docs docs/forecasting.md

(tests/forecasting/test_forecasting_doc.py fails when the quote is stale). The figures and
what they do and do not show are in that page, not here.

Backtest (:func:`backtest`)
---------------------------
Rolling origin over held-out seasons: other generator seeds (a separate branch of numpy's
SeedSequence, checked disjoint from training's) and later calendar years (2031-2040) than any
training season; the model is fixed, the origin steps through each season every
`origin_step_h` hours and each forecast is scored against the probe reading h hours later
(hours where the probe missed are skipped). Both the model and the FAO-56 baseline get the
same imperfect outlook (`forecasting.outlook`). Baselines:
- persistence: the last reading;
- FAO-56 balance (:func:`fao56_forecast`): the depletion from the last reading by eq. 86
  (limited to 0..TAW), then `forecasting.water_balance.run` forward over the outlook in 24 h
  blocks from the origin (eq. 85 with SCS runoff, Ks eq. 84); its water content (eq. 86
  backwards) at 24, 48, 72 h, linearly interpolated from the last reading at 0 h to 24 h for
  the 6 h and 12 h horizons.
Skill = 1 - MAE_model / MAE_baseline; a 90 % interval of each skill from a bootstrap over
held-out seasons says how sure the sign is. :meth:`Backtest.to_text` says plainly at which
horizons the model does not beat a baseline.

With and without the farmer's records
-------------------------------------
Every origin is scored twice on the same seasons, outlooks and readings: without irrigation
records (the model's irrigation feature NaN, the FAO-56 balance given no irrigation: the
main table, the case of a farmer who records nothing) and with them (every season's applied
irrigation in the model's features, and in the FAO-56 balance the irrigation recorded
between the last reading and the origin, which that reading has not seen; irrigation after
the origin is in no method's inputs). Persistence is the same in both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from forecasting import water_balance as wb
from forecasting.features import HORIZONS_H
from forecasting.model import SoilMoistureForecaster, train
from forecasting.outlook import NO_RAIN_OUTLOOK, OutlookError
from forecasting.seasons import TEST_YEARS, season_data, seasons_for
from forecasting.water_balance import Field


def fao56_forecast(
    vwc_last: float,
    rain_next: np.ndarray,
    et0_next: np.ndarray,
    field_: Field,
    origin_date: dt.date,
    irrigation_mm: float = 0.0,
) -> np.ndarray:
    """The FAO-56 balance's soil_vwc (%) at each of HORIZONS_H (see the module notes).

    vwc_last: the last reading (%); rain_next, et0_next: the outlook's 72 hourly values (mm);
    origin_date: the origin's local date (block k is dated origin_date + k days for Kc);
    irrigation_mm: net irrigation recorded after the last reading, up to the origin (mm; 0
    when none is recorded): it lowers the starting depletion (eq. 85's I, limited at field
    capacity, the excess percolating as eq. 88 says) and so also the 0 h value.
    """
    dates = pd.date_range(pd.Timestamp(origin_date), periods=3, freq="D")
    zr = float(field_.root_depth(field_.season_day(dates[:1]))[0])
    taw = 1000.0 * field_.soil.available_water * zr
    dr_read = float(
        np.clip(wb.depletion_from_theta(vwc_last / 100.0, field_.soil.theta_fc, zr), 0, taw)
    )
    dr0 = max(dr_read - max(float(irrigation_mm), 0.0), 0.0)
    vwc_origin = vwc_last + (dr_read - dr0) / (10.0 * zr)  # eq. 86: mm over Zr as % VWC
    daily = pd.DataFrame(
        {
            "et0": np.asarray(et0_next[:72], float).reshape(3, 24).sum(axis=1),
            "rain": np.asarray(rain_next[:72], float).reshape(3, 24).sum(axis=1),
        },
        index=dates,
    )
    dr = wb.run(daily, field_, dr0=dr0)["dr"].to_numpy()
    at = np.concatenate([[vwc_origin], 100.0 * (field_.soil.theta_fc - dr / (1000.0 * zr))])
    return np.interp(np.asarray(HORIZONS_H, float), [0.0, 24.0, 48.0, 72.0], at)


@dataclass
class Backtest:
    """A backtest's result.

    table: without the farmer's records (module notes), one row per horizon (h): n,
      mae_model, mae_persistence, mae_fao56 (%), skill_persistence, skill_fao56 (1 -
      MAE_model / MAE_baseline) with their bootstrap 5 % and 95 % bounds (`*_lo`, `*_hi`),
      coverage (share of readings inside the 80 % interval) and width (mean interval width,
      %). table_records: the same with the irrigation records given.
    by_crop, by_soil: MAE and skill per crop (soil texture) and horizon, without records.
    errors: one row per origin, horizon and `records` (False, True).
    """

    table: pd.DataFrame
    by_crop: pd.DataFrame
    by_soil: pd.DataFrame
    errors: pd.DataFrame
    model_version: str
    settings: dict[str, Any] = field(default_factory=dict)
    table_records: pd.DataFrame = field(default_factory=pd.DataFrame)

    def verdict(self) -> list[str]:
        """Plain sentences: where the model does and does not beat each baseline."""
        lines = []
        for name, column in (("persistence", "skill_persistence"), ("FAO-56", "skill_fao56")):
            # self.table's index holds the horizons (int); pandas-stubs types labels Hashable
            lost = [int(h) for h, s in self.table[column].items() if not s > 0]  # type: ignore[call-overload]
            unsure = [
                int(h)  # type: ignore[call-overload]
                for h, s in self.table[f"{column}_lo"].items()
                if s <= 0 and int(h) not in lost  # type: ignore[call-overload]
            ]
            if lost:
                lines.append(
                    f"Does NOT beat {name} at {', '.join(f'{h} h' for h in lost)} "
                    "(skill <= 0 on the held-out seasons)."
                )
            else:
                lines.append(f"Beats {name} at every horizon on the held-out seasons.")
            if unsure:
                lines.append(
                    f"  ...but against {name} at {', '.join(f'{h} h' for h in unsure)} the "
                    "season bootstrap's 5 % bound is <= 0: not sure of the sign."
                )
        return lines

    def to_text(self) -> str:
        """The table as text, with the verdict and the settings."""
        s = self.settings
        t = self.table
        head = (
            f"Soil-moisture backtest of {self.model_version}: {s.get('seasons')} held-out "
            f"seasons ({s.get('years')}, seeds disjoint from training), origins every "
            f"{s.get('origin_step_h')} h, scored against the probe reading (soil_vwc, %)."
        )
        lines = [head, ""]
        lines.append(
            f"{'h':>4} {'n':>6} {'MAE model':>9} {'persist':>8} {'FAO-56':>7} "
            f"{'skill vs persist [90% CI]':>26} {'skill vs FAO-56 [90% CI]':>26} "
            f"{'cover80':>7} {'width':>6}"
        )
        for h, r in t.iterrows():  # h: the horizon (int), typed Hashable by pandas-stubs
            sp = f"{r.skill_persistence:+.2f} [{r.skill_persistence_lo:+.2f},{r.skill_persistence_hi:+.2f}]"
            sf = f"{r.skill_fao56:+.2f} [{r.skill_fao56_lo:+.2f},{r.skill_fao56_hi:+.2f}]"
            lines.append(
                f"{int(h):>3}h {int(r.n):>6} {r.mae_model:>9.2f} {r.mae_persistence:>8.2f} "  # type: ignore[call-overload]
                f"{r.mae_fao56:>7.2f} {sp:>26} {sf:>26} {r.coverage:>7.2f} {r.width:>6.2f}"
            )
        lines.append("")
        lines.append(
            "MAE in percentage points of volumetric water content; skill = 1 - MAE / MAE_baseline."
        )
        lines.extend(self.verdict())
        lines.extend(self._records_text())
        for title, part_table in (("crop", self.by_crop), ("soil", self.by_soil)):
            lines.append("")
            lines.append(f"By {title} (skill vs persistence / vs FAO-56; a minus is a loss):")
            for name, part in part_table.groupby(level=0):
                # part's labels: (crop or soil, horizon) pairs, typed Hashable by pandas-stubs
                cells = "  ".join(
                    f"{int(h)}h {r.skill_persistence:+.2f}/{r.skill_fao56:+.2f}"  # type: ignore[misc, has-type]
                    for (_, h), r in part.iterrows()
                )
                lines.append(f"  {name:<16} {cells}")
        return "\n".join(lines)

    def _records_text(self) -> list[str]:
        """The table with and without the irrigation records, side by side."""
        if self.table_records.empty:
            return []
        none, rec = self.table, self.table_records
        s = self.settings
        title = (
            "Without / with the farmer's irrigation records (the same origins; only the records "
            "differ; the table above is without):"
        )
        head = (
            f"{'h':>4} {'MAE model':>15} {'MAE FAO-56':>15} {'skill vs persist':>17} "
            f"{'skill vs FAO-56':>17}"
        )
        sub = (
            f"{'':>4} {'without':>7} {'with':>7} {'without':>7} {'with':>7} "
            f"{'without':>8} {'with':>8} {'without':>8} {'with':>8}"
        )
        lines = ["", title, head, sub]
        for h in none.index:
            a, b = none.loc[h], rec.loc[h]
            lines.append(
                f"{int(h):>3}h {a.mae_model:>7.2f} {b.mae_model:>7.2f} {a.mae_fao56:>7.2f} "
                f"{b.mae_fao56:>7.2f} {a.skill_persistence:>+8.2f} {b.skill_persistence:>+8.2f} "
                f"{a.skill_fao56:>+8.2f} {b.skill_fao56:>+8.2f}"
            )
        lines.append(
            f"Origins with irrigation in the 24 h before them: {s.get('irrigated_origins')} of "
            f"{s.get('origins')}; with irrigation after their last reading (what the FAO-56 "
            f"balance gains from the records): {s.get('irrigated_after_reading')}."
        )
        if "irrigated_24h" in self.errors.columns:
            near = self.errors[self.errors["irrigated_24h"]]
            mae = near.groupby(["h", "records"])[["abs_model", "abs_fao56"]].mean()
            if len(mae):
                cells = "  ".join(
                    f"{int(h)}h {mae.loc[(h, False), 'abs_model']:.2f}/"
                    f"{mae.loc[(h, True), 'abs_model']:.2f}"
                    for h in self.table.index
                    if (h, False) in mae.index and (h, True) in mae.index
                )
                lines.append(f"On those origins only, MAE model without/with: {cells}")
        return lines


def _skill_bounds(
    errors: pd.DataFrame, baseline: str, rng: np.random.Generator, n: int = 200
) -> tuple[float, float]:
    """5 % and 95 % bootstrap bounds of 1 - MAE_model / MAE_baseline, resampling seasons."""
    sums = errors.groupby("season")[["abs_model", baseline]].sum()
    seasons = sums.to_numpy()
    pick = rng.integers(0, len(seasons), (n, len(seasons)))
    total = seasons[pick].sum(axis=1)
    skill = 1.0 - total[:, 0] / total[:, 1]
    return float(np.quantile(skill, 0.05)), float(np.quantile(skill, 0.95))


def backtest(
    model: SoilMoistureForecaster | None = None,
    seasons: int = 15,
    seed: int = 1,
    origin_step_h: int = 6,
    error: OutlookError | None = None,
    train_seasons: int = 30,
) -> Backtest:
    """Rolling-origin backtest on held-out seasons (see the module notes).

    model: the model to test (default: one trained now with `train(train_seasons, seed)`);
    seasons: held-out seasons (years TEST_YEARS, SeedSequence branch 1 of `seed`);
    origin_step_h: hours between origins. Scores every origin without and with the irrigation
    records (module notes); records both tables in `model.metadata["backtest"]`.
    """
    error = error or OutlookError()
    if model is None:
        model = train(seasons=train_seasons, seed=seed, error=error)
    specs = seasons_for(seasons, seed, TEST_YEARS, branch=1)
    trained_seeds = {s["seed"] for s in model.metadata.get("season_list", [])}
    if trained_seeds & {s.seed for s in specs}:
        raise ValueError("a held-out season shares a seed with a training season")
    frames = []
    irrigated_origins = irrigated_after = n_origins = 0
    for i, spec in enumerate(specs):
        d = season_data(spec, origin_step_h, error)
        last = d.x["vwc_last"].to_numpy()
        # simulate's frame has a tz-aware hourly DatetimeIndex
        local_dates = cast(pd.DatetimeIndex, d.sim.index).tz_localize(None).normalize()[d.origins]
        after = np.nan_to_num(d.irrigation_since_reading())
        fao = np.full((len(d.origins), len(HORIZONS_H)), np.nan)
        for k in np.flatnonzero(np.isfinite(last)):
            fao[k] = fao56_forecast(
                last[k],
                d.rain_f[k],
                d.et0_f[k],
                d.field,
                # pandas-stubs index a DatetimeIndex by int, not by a numpy integer (k)
                local_dates[k].date(),  # type: ignore[call-overload]
            )
        # with the records the balance differs only where irrigation followed the last reading
        fao_records = fao.copy()
        for k in np.flatnonzero(np.isfinite(last) & (after > 0)):
            fao_records[k] = fao56_forecast(
                last[k],
                d.rain_f[k],
                d.et0_f[k],
                d.field,
                local_dates[k].date(),  # type: ignore[call-overload]
                irrigation_mm=float(after[k]),
            )
        n_origins += int(np.isfinite(last).sum())
        irrigated = d.irrigation_past[:, -24:].sum(axis=1) > 0
        irrigated_origins += int((np.isfinite(last) & irrigated).sum())
        irrigated_after += int((np.isfinite(last) & (after > 0)).sum())
        for records, x, baseline in (
            (False, d.x_no_records, fao),
            (True, d.x_records, fao_records),
        ):
            pred = model.predict(x)
            for j, h in enumerate(HORIZONS_H):
                frames.append(
                    pd.DataFrame(
                        {
                            "season": i,
                            "crop": spec.crop,
                            "soil": spec.soil,
                            "records": records,
                            "irrigated_24h": irrigated,
                            "h": h,
                            "truth": last + d.y[:, j],
                            "model": pred[f"vwc_{h}h"].to_numpy(),
                            "lo": pred[f"lo_{h}h"].to_numpy(),
                            "hi": pred[f"hi_{h}h"].to_numpy(),
                            "persistence": last,
                            "fao56": baseline[:, j],
                        }
                    )
                )
    errors = pd.concat(frames, ignore_index=True)
    errors = errors[np.isfinite(errors["truth"]) & np.isfinite(errors["persistence"])]
    for name in ("model", "persistence", "fao56"):
        errors[f"abs_{name}"] = (errors[name] - errors["truth"]).abs()
    errors["inside"] = (errors["truth"] >= errors["lo"]) & (errors["truth"] <= errors["hi"])
    rng = np.random.default_rng(seed)
    without = errors[~errors["records"]]
    table = _table(without, rng)
    table_records = _table(errors[errors["records"]], rng)

    def breakdown(key: str) -> pd.DataFrame:
        mae = without.groupby([key, "h"])[["abs_model", "abs_persistence", "abs_fao56"]].mean()
        return pd.DataFrame(
            {
                "mae_model": mae["abs_model"],
                "skill_persistence": 1.0 - mae["abs_model"] / mae["abs_persistence"],
                "skill_fao56": 1.0 - mae["abs_model"] / mae["abs_fao56"],
            }
        )

    settings = {
        "seasons": seasons,
        "seed": seed,
        "years": f"{TEST_YEARS[0]}-{TEST_YEARS[1]}",
        "origin_step_h": origin_step_h,
        "origins": n_origins,
        "irrigated_origins": irrigated_origins,
        "irrigated_after_reading": irrigated_after,
    }
    result = Backtest(
        table,
        breakdown("crop"),
        breakdown("soil"),
        errors,
        model.version,
        settings,
        table_records=table_records,
    )
    model.metadata["backtest"] = {
        **settings,
        "table": _as_dict(table),
        "table_records": _as_dict(table_records),
    }
    return result


def _as_dict(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {
        # table's index holds the horizons (int); pandas-stubs types labels Hashable
        f"{int(h)}h": {str(k): round(float(v), 4) for k, v in r.items()}  # type: ignore[call-overload]
        for h, r in table.iterrows()
    }


def _table(errors: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The per-horizon table of :class:`Backtest` from one variant's error rows."""
    rows = []
    for h, part in errors.groupby("h"):
        row: dict[str, float] = {
            "h": cast(float, h),  # the horizon (int), typed as any label by pandas-stubs
            "n": len(part),
            "mae_model": part["abs_model"].mean(),
            "mae_persistence": part["abs_persistence"].mean(),
            "mae_fao56": part["abs_fao56"].mean(),
            "coverage": part["inside"].mean(),
            "width": (part["hi"] - part["lo"]).mean(),
        }
        for base in ("persistence", "fao56"):
            row[f"skill_{base}"] = 1.0 - row["mae_model"] / row[f"mae_{base}"]
            lo, hi = _skill_bounds(part, f"abs_{base}", rng)
            row[f"skill_{base}_lo"], row[f"skill_{base}_hi"] = lo, hi
        rows.append(row)
    table = pd.DataFrame(rows).set_index("h")
    return table[
        [
            "n",
            "mae_model",
            "mae_persistence",
            "mae_fao56",
            "skill_persistence",
            "skill_persistence_lo",
            "skill_persistence_hi",
            "skill_fao56",
            "skill_fao56_lo",
            "skill_fao56_hi",
            "coverage",
            "width",
        ]
    ]


# --- the results quoted in docs/forecasting.md -----------------------------------------------

# `ruong forecast backtest --outlook forecast`'s defaults: about 30 s on an idle 2-core machine
DOC_TRAIN_SEASONS, DOC_SEASONS, DOC_SEED, DOC_STEP_H = 30, 15, 1, 6
BEGIN, END = "<!-- backtest:begin -->", "<!-- backtest:end -->"


def doc_block() -> str:
    """The results docs/forecasting.md quotes (a fenced text block): one model trained for
    the forecast outlook, backtested with that outlook, then with :data:`NO_RAIN_OUTLOOK`,
    each without and with the farmer's irrigation records (:meth:`Backtest.to_text`)."""
    model = train(seasons=DOC_TRAIN_SEASONS, seed=DOC_SEED, error=OutlookError())
    head = f"Model {model.version}: train(seasons={DOC_TRAIN_SEASONS}, seed={DOC_SEED}), "
    parts = [head + "outlook: forecast (OutlookError())."]
    for name, error in (("forecast", OutlookError()), ("no-rain", NO_RAIN_OUTLOOK)):
        result = backtest(
            model, seasons=DOC_SEASONS, seed=DOC_SEED, origin_step_h=DOC_STEP_H, error=error
        )
        parts.append(f"=== backtest outlook: {name}\n\n{result.to_text()}")
    return "```text\n" + "\n\n".join(parts) + "\n```\n"


def _block_span(text: str) -> tuple[int, int]:
    """Where the generated block starts (the line after BEGIN's) and ends (at END)."""
    begin, end = text.find(BEGIN), text.find(END)
    start = text.find("\n", begin) + 1
    if begin < 0 or not 0 < start <= end:
        raise ValueError(f"no {BEGIN} ... {END} block on lines of their own")
    return start, end


def rewrite_block(text: str, block: str) -> str:
    """`text` with what lies between its BEGIN and END lines replaced by `block`."""
    start, end = _block_span(text)
    return text[:start] + block + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """Print :func:`doc_block`, or write it into a Markdown file's marked block."""
    parser = argparse.ArgumentParser(
        prog="python -m forecasting.backtest",
        description="The soil-moisture backtest quoted in docs/forecasting.md.",
    )
    parser.add_argument(
        "--write-docs",
        type=Path,
        metavar="MD",
        help=f"rewrite the block between {BEGIN} and {END} in MD instead of printing it",
    )
    args = parser.parse_args(argv)
    if args.write_docs is None:
        print(doc_block(), end="")
        return 0
    path: Path = args.write_docs
    try:
        text = path.read_text()
        _block_span(text)  # before the half-minute run, not after
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    path.write_text(rewrite_block(text, doc_block()))
    print(f"rewrote the backtest block of {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
