"""`ruong forecast run|watch|train|backtest|scouting|et0`: the forecasts (once, or kept up to
date as readings arrive), the soil-moisture model's training and skill, pest-rule refinement,
ET0 for researchers."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # pandas is imported by the commands that use it: `ruong` starts faster
    import pandas as pd

    from forecasting.outlook import OutlookError

from backend.config import ConfigError, Settings
from backend.registry import Registry, RegistryError


def _timestamp(text: str) -> pd.Timestamp:
    import pandas as pd

    try:
        return pd.Timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-03-01T06:00") from None


def cmd_forecast_run(settings: Settings, args: argparse.Namespace) -> int:
    from backend.clock import Clock
    from backend.store import open_store
    from ruong import forecast_job

    now = args.now if args.now is not None else Clock.of(settings).now_s() * 1e3
    now_ms = int(pd_timestamp(now, settings.timezone).timestamp() * 1000)
    weather = forecast_job.weather_source(settings)(now_ms)
    model = forecast_job.load_model(settings.model_dir, forecast_job.outlook_of(weather))
    print(f"soil-moisture model {model.version}", file=sys.stderr)
    with Registry(settings.registry_url) as registry, open_store(settings.store) as store:
        results = forecast_job.run(
            settings,
            registry,
            store,
            field=args.field,
            now=pd_timestamp(now, settings.timezone).to_pydatetime(),
            model=model,
            n_jobs=args.jobs,
            weather=weather,
        )
    if not results:
        print("no planted fields: ruong field plant --field F --crop maize --planted 2026-02-10")
        return 0
    from backend.i18n import render

    for result in results:
        print(f"{result.planting.field} ({result.planting.crop}):")
        if result.error:
            print(f"  no forecast: {result.error}")
        for advice in result.advice:
            level = "-" if advice.level is None else str(advice.level)
            print(
                f"  [{level}] {advice.kind:<24} {render(advice.text, args.lang)}  ({advice.model})"
            )
    return 1 if any(r.error for r in results) else 0


def pd_timestamp(value: pd.Timestamp | float, timezone: str) -> pd.Timestamp:
    """A --now (naive: the site's wall clock) or Unix ms as a tz-aware time."""
    import pandas as pd

    if isinstance(value, float | int):
        return pd.Timestamp(int(value), unit="ms", tz="UTC")
    at = pd.Timestamp(value)
    return at.tz_localize(timezone) if at.tz is None else at


def cmd_forecast_watch(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    import threading

    from backend.clock import Clock
    from backend.store import open_store
    from ruong import forecast_job
    from ruong.forecast_watch import Watch, watch

    clock = Clock.of(settings)
    source = forecast_job.weather_source(settings)
    outlook = forecast_job.outlook_of(source(clock.now_ms()))
    model = forecast_job.load_model(settings.model_dir, outlook)
    print(f"soil-moisture model {model.version} ({outlook} outlook)", file=sys.stderr)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Registry(settings.registry_url) as registry, open_store(settings.store) as store:
        the = Watch(
            settings,
            registry,
            store,
            model,
            clock,
            source,
            refresh_s=args.refresh,
            full_every_s=args.full_every,
        )
        print(f"forecast watch: polling every {args.every:g} s", file=sys.stderr, flush=True)
        watch(the, args.every, stop)
    print(f"forecast watch: {the.runs} runs, {the.failures} failed polls", file=sys.stderr)
    return 0


def _outlook_error(name: str) -> OutlookError:
    from forecasting.outlook import NO_RAIN_OUTLOOK, OutlookError

    return NO_RAIN_OUTLOOK if name == "no-rain" else OutlookError()


def cmd_forecast_train(settings: Settings, args: argparse.Namespace) -> int:
    from forecasting.model import train

    started = time.perf_counter()
    model = train(seasons=args.seasons, seed=args.seed, error=_outlook_error(args.outlook))
    path = model.save(Path(settings.model_dir))
    print(f"trained {model.version} in {time.perf_counter() - started:.1f} s -> {path}")
    return 0


def cmd_forecast_backtest(settings: Settings, args: argparse.Namespace) -> int:
    from forecasting.backtest import backtest
    from forecasting.model import SoilMoistureForecaster, train

    error = _outlook_error(args.outlook)
    if args.model is not None:
        model = SoilMoistureForecaster.load(args.model)
    else:
        model = train(seasons=args.train_seasons, seed=args.seed, error=error)
        print(f"trained {model.version} in {model.metadata['train_seconds']} s")
    result = backtest(
        model, seasons=args.seasons, seed=args.seed, origin_step_h=args.step, error=error
    )
    print(f"outlook: {args.outlook}")
    print(result.to_text())
    if args.save:
        print(f"saved with its backtest -> {model.save(Path(settings.model_dir))}")
    return 0


def cmd_forecast_scouting(settings: Settings, args: argparse.Namespace) -> int:
    """Refine a pest rule with scouting records (forecasting.pest.refine) and print its skill.

    The CSV has columns date, field and incidence (0-1) or a count column named by
    `--value`; each field's rule features come from its readings in the store.
    """
    import pandas as pd

    from backend.store import open_store
    from forecasting import pest
    from ruong import forecast_job

    path = Path(args.csv)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    observations = pd.read_csv(path)
    missing = {"date", "field", args.value} - set(observations.columns)
    if missing:
        raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    with Registry(settings.registry_url) as registry, open_store(settings.store) as store:
        plantings = {p.field: p for p in registry.plantings(settings.farm)}
        frames = []
        for field in sorted(observations["field"].astype(str).unique()):
            if field not in plantings:
                raise RegistryError(f"{path}: field {field!r} has no planting in the registry")
            info = plantings[field]
            first = pd.Timestamp(observations["date"].min()) - pd.Timedelta(days=14)
            since = min(first, pd.Timestamp(info.planted)).tz_localize(settings.timezone)
            rows = store.rows(
                "readings",
                where={"farm": info.farm, "field": field},
                since_ms=int(since.timestamp() * 1000),
            )
            readings = forecast_job.readings_frame(rows).tz_convert(settings.timezone)
            if readings.empty:
                raise RegistryError(f"field {field!r}: no readings in the store since {since}")
            features = pest.daily_features(readings, pd.Timestamp(info.planted))
            frames.append(features.reset_index().assign(field=field))
    try:
        refined = pest.refine(
            pd.concat(frames, ignore_index=True),
            observations.assign(field=observations["field"].astype(str)),
            level_column=f"{args.rule}_level",
            value_column=args.value,
            outbreak_at=args.outbreak_at,
        )
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    print(refined.report.table())
    return 0


def cmd_forecast_et0(settings: Settings, args: argparse.Namespace) -> int:
    """ET0 of a CSV of daily (`date`) or hourly (`time`, with its UTC offset) weather."""
    import pandas as pd

    from forecasting import et0

    path = Path(args.csv)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    frame = pd.read_csv(path)
    latitude = settings.latitude if args.latitude is None else args.latitude
    longitude = settings.longitude if args.longitude is None else args.longitude
    elevation = settings.elevation if args.elevation is None else args.elevation
    try:
        out, caught = _et0_table(frame, path, latitude, longitude, elevation)
    except et0.InputError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for warning in caught:
        print(f"note: {warning.message}", file=sys.stderr)
    print(out.round(3).to_csv(), end="")
    return 0


def _et0_table(
    frame: pd.DataFrame, path: Path, latitude: float, longitude: float, elevation: float
) -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    import pandas as pd

    from forecasting import et0

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", et0.RadiationEstimatedWarning)
        if "time" in frame.columns:
            index = pd.to_datetime(frame.pop("time"))
            if getattr(index.dt, "tz", None) is None:
                raise et0.InputError("the `time` column needs a UTC offset, e.g. +07:00")
            frame.index = pd.DatetimeIndex(index)
            terms = et0.hourly_terms(frame, latitude, longitude, elevation)
            out = terms[["et0"]].rename(columns={"et0": "et0_mm_per_h"})
            out.index.name = "time"
        elif "date" in frame.columns:
            frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="date")
            terms = et0.daily_terms(frame, latitude, elevation)
            out = terms[["et0", "rs", "rs_estimated"]].rename(columns={"et0": "et0_mm_per_day"})
            out.index = cast(pd.DatetimeIndex, out.index).date  # daily_terms keeps frame's index
            out.index.name = "date"
        else:
            raise et0.InputError("needs a `date` (daily) or `time` (hourly) column")
    return out, caught


def add_parser(sub: argparse._SubParsersAction) -> None:
    forecast = sub.add_parser("forecast", help="irrigation, rice AWD and pest forecasts")
    fsub = forecast.add_subparsers(dest="forecast_command", required=True, metavar="ACTION")
    run = fsub.add_parser("run", help="forecast the planted fields and write `forecasts`")
    run.add_argument("--field", help="only this field")
    run.add_argument("--now", type=_timestamp, help="forecast as of this time (default: now)")
    run.add_argument("--lang", choices=["vi", "en"], default="vi")
    run.add_argument("--jobs", type=int, default=1, help="processes for the per-field work")
    run.set_defaults(func=cmd_forecast_run)
    watch = fsub.add_parser(
        "watch", help="keep the advice up to date: forecast each field again on new readings"
    )
    watch.add_argument("--every", type=float, default=30.0, help="seconds between polls")
    watch.add_argument(
        "--refresh", type=float, default=3600.0, help="seconds between rewrites of unchanged advice"
    )
    watch.add_argument(
        "--full-every", type=float, default=6 * 3600.0, help="seconds between whole-farm runs"
    )
    watch.set_defaults(func=cmd_forecast_watch)
    outlook = {
        "choices": ["no-rain", "forecast"],
        "default": "no-rain",
        "help": "the weather outlook the model gets: no-rain (what `run` gives until a "
        "forecast feed is configured) or forecast (a realistic imperfect forecast)",
    }
    train = fsub.add_parser("train", help="train and save a new soil-moisture model")
    train.add_argument("--seasons", type=int, default=30, help="simulated seasons to train on")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--outlook", **outlook)
    train.set_defaults(func=cmd_forecast_train)
    backtest = fsub.add_parser(
        "backtest",
        help="skill of the soil-moisture model on held-out simulated seasons, without and "
        "with the farmer's irrigation records",
    )
    backtest.add_argument("--model", type=Path, help="a saved .joblib (default: train one)")
    backtest.add_argument("--seasons", type=int, default=15, help="held-out seasons")
    backtest.add_argument("--train-seasons", type=int, default=30)
    backtest.add_argument("--seed", type=int, default=1)
    backtest.add_argument("--step", type=int, default=6, help="hours between origins")
    backtest.add_argument("--outlook", **outlook)
    backtest.add_argument(
        "--save", action="store_true", help="save the tested model, with its table, as current"
    )
    backtest.set_defaults(func=cmd_forecast_backtest)
    scouting = fsub.add_parser(
        "scouting", help="refine a pest rule with scouting records; print its held-out skill"
    )
    scouting.add_argument("--csv", required=True, help="columns date,field,incidence")
    scouting.add_argument(
        "--rule",
        default="blast",
        choices=[
            "blast",
            "sheath_blight",
            "bacterial_leaf_blight",
            "brown_planthopper",
            "leaf_folder",
        ],
    )
    scouting.add_argument("--value", default="incidence", help="the observed column")
    scouting.add_argument(
        "--outbreak-at", type=float, default=0.1, help="value counted as an outbreak"
    )
    scouting.set_defaults(func=cmd_forecast_scouting)
    et0 = fsub.add_parser("et0", help="FAO-56 ET0 of a CSV of daily or hourly weather")
    et0.add_argument(
        "--csv",
        required=True,
        help="columns date,tmin,tmax,rh_min,rh_max,u2[,rs] or time,t,rh,u2,rs",
    )
    et0.add_argument("--latitude", type=float, help="decimal degrees (default: [site])")
    et0.add_argument("--longitude", type=float, help="decimal degrees (default: [site])")
    et0.add_argument("--elevation", type=float, help="m above sea level (default: [site])")
    et0.set_defaults(func=cmd_forecast_et0)
