"""The rules refined with scouting observations: daily rule features, and a calibrated
scikit-learn classifier of "outbreak" scored against the rule alone on held-out time.

Place in the data path: a field's readings -> :func:`daily_features` (each rule's level and
features at the end of every day) + scouting records (incidence 0-1 or counts, by date and
field) -> :func:`refine` -> a :class:`Refinement` (the fitted model) whose
:class:`RefinementReport` says whether it beats the rule; the caller prints or stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from forecasting.pest.assessment import assess
from forecasting.pest.rules import load_rules, rule_keys
from forecasting.pest.weather import DAY, Rules, hourly_weather


def daily_features(
    weather: pd.DataFrame, transplanted: pd.Timestamp, rules: Rules | None = None
) -> pd.DataFrame:
    """Each rule's level and features at the end of every local day of `weather`.

    transplanted: the local date the field was transplanted (tz-aware or naive in the data's
    zone); weather: readings as for :func:`hourly_weather`. Returns one row per day (index: the
    day's date, naive) with columns `<rule key>_level` and `<rule key>_<feature>` (the rule's
    section in `pest_rules.json`, e.g. `blast_wet_hours_7d`, in the feature's unit); the
    input for :func:`refine`.
    """
    rules = rules or load_rules()
    hourly = hourly_weather(weather, rules)
    tz = cast(pd.DatetimeIndex, hourly.index).tz  # hourly_weather resamples a DatetimeIndex
    start = pd.Timestamp(transplanted)
    start = start.tz_localize(tz) if start.tz is None else start.tz_convert(tz)
    days = pd.date_range(hourly.index[0].normalize() + DAY, hourly.index[-1].normalize() + DAY)
    key_of = rule_keys(rules)
    rows = []
    for end in days:
        dat = int((end - start) / DAY)
        row: dict[str, float] = {}
        for risk in assess(hourly, dat if dat >= 1 else None, end, rules):
            key = key_of[risk.rule_id]
            row[f"{key}_level"] = np.nan if risk.level is None else float(risk.level)
            row.update({f"{key}_{k}": v for k, v in risk.features.items()})
        rows.append(row)
    return pd.DataFrame(rows, index=(days - DAY).tz_localize(None).rename("date"))


@dataclass(frozen=True)
class RefinementReport:
    """Held-out (later-in-time) skill of the refined classifier against the rule alone.

    Brier scores (lower is better) of: the training base rate (climatology), the rule (each
    level's outbreak frequency in the training period) and the calibrated model; ROC AUC of
    the rule level and of the model's probability."""

    n_train: int
    n_test: int
    split_date: pd.Timestamp
    base_rate: float
    brier_climatology: float
    brier_rule: float
    brier_model: float
    auc_rule: float
    auc_model: float

    def table(self) -> str:
        return "\n".join(
            [
                (
                    f"outbreak model, trained on {self.n_train} observations before "
                    f"{self.split_date.date()}, tested on {self.n_test} after "
                    f"(outbreak rate in training {self.base_rate:.2f})"
                ),
                f"{'':<14}{'Brier':>8}{'ROC AUC':>9}",
                f"{'climatology':<14}{self.brier_climatology:>8.4f}{0.5:>9.3f}",
                f"{'rule alone':<14}{self.brier_rule:>8.4f}{self.auc_rule:>9.3f}",
                f"{'refined':<14}{self.brier_model:>8.4f}{self.auc_model:>9.3f}",
            ]
        )


@dataclass(frozen=True)
class Refinement:
    """A fitted outbreak classifier: `model` (scikit-learn, calibrated), the `features` it
    reads (in order) and its held-out `report`."""

    model: Any
    features: list[str]
    report: RefinementReport

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of an outbreak for rows of `frame` holding the model's features."""
        return self.model.predict_proba(frame[self.features].to_numpy(float))[:, 1]


def refine(
    features: pd.DataFrame,
    observations: pd.DataFrame,
    level_column: str,
    value_column: str = "incidence",
    outbreak_at: float = 0.1,
    test_fraction: float = 0.3,
    estimator: Literal["logistic", "boosting"] = "logistic",
    seed: int = 0,
) -> Refinement:
    """Fit a calibrated classifier of "outbreak" on a rule's features and scouting records.

    features: columns `date`, `field`, `level_column` (the rule's 0-3 level) and numeric
    feature columns (e.g. from :func:`daily_features`, one frame per field with a `field`
    column added); observations: columns `date`, `field` and `value_column` (incidence 0-1
    or a count); an outbreak is `value >= outbreak_at`. Rows are joined on (date, field).
    The latest `test_fraction` of dates is held out; on the rest a
    ``CalibratedClassifierCV`` (sigmoid, 3-fold) over a scaled LogisticRegression or a
    HistGradientBoostingClassifier is fitted with all numeric columns, the level included.
    The rule baseline scores each level by its outbreak frequency in the training period
    (Laplace-smoothed). Returns the fitted :class:`Refinement`; its `report` is the held-out
    evaluation (``report.table()`` for a reader). Prints nothing.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    left = features.assign(date=pd.to_datetime(features["date"]).dt.normalize())
    right = observations.assign(date=pd.to_datetime(observations["date"]).dt.normalize())
    data = left.merge(right[["date", "field", value_column]], on=["date", "field"])
    data = data.dropna().sort_values("date")
    names = [
        c
        for c in data.columns
        if c not in ("date", "field", value_column) and pd.api.types.is_numeric_dtype(data[c])
    ]
    y = (data[value_column] >= outbreak_at).to_numpy(int)
    dates = np.sort(data["date"].unique())
    split = pd.Timestamp(dates[int(len(dates) * (1.0 - test_fraction))])
    train, test = (data["date"] < split).to_numpy(), (data["date"] >= split).to_numpy()
    for part, mask in (("training", train), ("test", test)):
        if len(np.unique(y[mask])) < 2:
            raise ValueError(f"the {part} period needs both outbreaks and non-outbreaks")

    x = data[names].to_numpy(float)
    if estimator == "logistic":
        base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        base = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    model = CalibratedClassifierCV(base, method="sigmoid", cv=3).fit(x[train], y[train])
    p_model = model.predict_proba(x[test])[:, 1]

    level = data[level_column].to_numpy(float)
    base_rate = float(y[train].mean())
    freq = {
        lv: (y[train][level[train] == lv].sum() + base_rate) / ((level[train] == lv).sum() + 1.0)
        for lv in np.unique(level[train])
    }
    p_rule = np.array([freq.get(lv, base_rate) for lv in level[test]])
    report = RefinementReport(
        n_train=int(train.sum()),
        n_test=int(test.sum()),
        split_date=split,
        base_rate=base_rate,
        brier_climatology=float(brier_score_loss(y[test], np.full(test.sum(), base_rate))),
        brier_rule=float(brier_score_loss(y[test], p_rule)),
        brier_model=float(brier_score_loss(y[test], p_model)),
        auc_rule=float(roc_auc_score(y[test], level[test])),
        auc_model=float(roc_auc_score(y[test], p_model)),
    )
    return Refinement(model, names, report)
