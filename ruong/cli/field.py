"""`ruong field plant|list`: what grows on each field, the forecasts' inputs.

`ruong field plant --variety V` records a rice variety: the crop (rice_spring/rice_summer) comes
from the planting date's season (forecasting/varieties.py `season_of`) and the harvest from
the variety's duration in it (`crop_for`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING

from backend.config import Settings
from backend.registry import PlantingInfo, Registry, RegistryError

if TYPE_CHECKING:  # the forecasting library (numpy) loads only when a command needs it
    from forecasting.crops import Crop


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-02-10") from None


def _variety_crop(variety: str, planted: dt.date, crop: str | None) -> Crop:
    """The rice crop of `variety` planted on `planted` (forecasting.varieties.crop_for);
    RegistryError naming the known varieties, a date in neither rice season, or a `crop`
    (--crop) that is not the season's."""
    from forecasting.varieties import SEASON_CROPS, crop_for, season_of

    try:
        season = season_of(planted)
    except ValueError as exc:  # a date in neither rice season
        raise RegistryError(str(exc)) from None
    if crop is not None and crop != SEASON_CROPS[season]:
        raise RegistryError(
            f"--crop {crop} contradicts --planted {planted}, which is in the {season} rice "
            f"season: {SEASON_CROPS[season]} (or leave --crop out with --variety)"
        )
    try:
        return crop_for(variety, planted)
    except ValueError as exc:  # an unknown variety, naming the known ones
        raise RegistryError(str(exc)) from None


def cmd_field_plant(settings: Settings, args: argparse.Namespace) -> int:
    from ruong.forecast_job import planting_of

    farm = args.farm or settings.farm
    if args.variety is None and args.crop is None:
        raise RegistryError("give --crop (e.g. maize), or --variety for rice (e.g. tbr225)")
    crop = None if args.variety is None else _variety_crop(args.variety, args.planted, args.crop)
    crop_key = args.crop if crop is None else crop.key
    wanted = PlantingInfo(
        farm, args.field, crop_key, args.planted, args.soil, args.area_m2, args.variety
    )
    looked_up = planting_of(wanted).crop  # an unknown crop or soil stops here, naming the known
    crop = looked_up if crop is None else crop
    with Registry(settings.registry_url) as registry:
        # the season's length dates the harvest for the season report (backend/report)
        info = registry.plant(
            farm,
            args.field,
            crop_key,
            args.planted,
            args.soil,
            args.area_m2,
            args.variety,
            season_days=crop.season_days,
        )
    harvest = info.planted + dt.timedelta(days=crop.season_days)
    print(
        f"{info.farm}/{info.field}: {crop.name_en} ({crop.name_vi}) planted {info.planted}, "
        f"harvest about {harvest}{_duration(info.variety, crop)}; soil {info.soil}; "
        f"{info.area_m2:g} m2"
    )
    return 0


def _duration(variety: str | None, crop: Crop) -> str:
    """Where a variety's harvest date comes from: its sheet's duration, counted from sowing."""
    if variety is None:
        return ""
    from forecasting.varieties import load_varieties

    counted_from = load_varieties()[variety].counted_from
    return f" (variety {variety}: {crop.season_days} days from {counted_from})"


def cmd_field_add(settings: Settings, args: argparse.Namespace) -> int:
    from ruong.cli.people import people

    with people(settings) as p:
        owner = p.accounts.user_id(args.owner) if args.owner else None
        field_id = p.registry.add_field(
            args.farm, args.field, args.commune, owner, args.lat, args.lon, args.area_m2
        )
        p.audit.record(
            p.actor,
            "field.add",
            "success",
            target=f"{args.farm}/{args.field}",
            details={"commune": args.commune, "field_id": field_id},
        )
    print(f"field {field_id}: {args.farm}/{args.field} in {args.commune}")
    return 0


def _latitude(text: str) -> float:
    return _degrees(text, 90.0)


def _longitude(text: str) -> float:
    return _degrees(text, 180.0)


def _degrees(text: str, limit: float) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not decimal degrees, e.g. 20.25") from None
    if not -limit <= value <= limit:
        raise argparse.ArgumentTypeError(f"{value} is outside -{limit:g}..{limit:g} degrees")
    return value


def cmd_field_list(settings: Settings, args: argparse.Namespace) -> int:
    with Registry(settings.registry_url) as registry:
        plantings = registry.plantings(settings.farm)
    if args.json:
        print(json.dumps([p.as_json() for p in plantings]))
        return 0
    if not plantings:
        print("no plantings yet: ruong field plant --field F --crop maize --planted 2026-02-10")
    for p in plantings:
        print(
            f"{p.farm}/{p.field:<16} {p.crop:<12} {p.variety or '-':<12} {p.planted}  "
            f"{p.soil:<16} {p.area_m2:g} m2"
        )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    field = sub.add_parser("field", help="what grows on each field (the forecasts' inputs)")
    field_sub = field.add_subparsers(dest="field_command", required=True, metavar="ACTION")
    plant = field_sub.add_parser(
        "plant", help="set a field's crop (or rice variety), planting day, soil and area"
    )
    plant.add_argument("--field", required=True)
    plant.add_argument("--farm", help="farm (default: [site] farm)")
    plant.add_argument(
        "--crop", help="e.g. maize, tomato, cabbage, rice_spring (with --variety: from the date)"
    )
    plant.add_argument(
        "--variety",
        help="rice variety: bac_thom_7, khang_dan_18, tbr225, dai_thom_8 "
        "(forecasting/data/rice_varieties.csv)",
    )
    plant.add_argument(
        "--planted",
        required=True,
        type=_date,
        help="sowing/transplanting day; with --variety the sowing day (the sheets count from it)",
    )
    plant.add_argument("--soil", default="silty_clay_loam", help="texture (FAO-56 Table 19)")
    plant.add_argument("--area-m2", type=float, default=1000.0, help="field area, m2")
    plant.set_defaults(func=cmd_field_plant)
    add = field_sub.add_parser("add", help="a field: its commune, owner, location and area")
    add.add_argument("--farm", required=True)
    add.add_argument("--field", required=True)
    add.add_argument("--commune", required=True, help="the commune (xã/phường) it lies in")
    add.add_argument("--owner", help="the farmer's phone number or username")
    add.add_argument("--lat", type=_latitude, help="decimal degrees north, WGS 84")
    add.add_argument("--lon", type=_longitude, help="decimal degrees east, WGS 84")
    add.add_argument("--area-m2", type=float, help="field area, m2")
    add.set_defaults(func=cmd_field_add)
    listing = field_sub.add_parser("list", help="list the farm's plantings")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_field_list)
