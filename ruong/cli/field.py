"""`ruong field plant|list`: what grows on each field, the forecasts' inputs."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from backend.config import Settings
from backend.registry import PlantingInfo, Registry


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-02-10") from None


def cmd_field_plant(settings: Settings, args: argparse.Namespace) -> int:
    from ruong.forecast_job import planting_of

    farm = args.farm or settings.farm
    wanted = PlantingInfo(farm, args.field, args.crop, args.planted, args.soil, args.area_m2)
    crop = planting_of(wanted).crop  # an unknown crop or soil stops here, naming the known
    with Registry(settings.registry_url) as registry:
        info = registry.plant(farm, args.field, args.crop, args.planted, args.soil, args.area_m2)
    harvest = info.planted + dt.timedelta(days=crop.season_days)
    print(
        f"{info.farm}/{info.field}: {crop.name_en} ({crop.name_vi}) planted {info.planted}, "
        f"harvest about {harvest}; soil {info.soil}; {info.area_m2:g} m2"
    )
    return 0


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
        print(f"{p.farm}/{p.field:<16} {p.crop:<12} {p.planted}  {p.soil:<16} {p.area_m2:g} m2")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    field = sub.add_parser("field", help="what grows on each field (the forecasts' inputs)")
    field_sub = field.add_subparsers(dest="field_command", required=True, metavar="ACTION")
    plant = field_sub.add_parser("plant", help="set a field's crop, planting day, soil and area")
    plant.add_argument("--field", required=True)
    plant.add_argument("--farm", help="farm (default: [site] farm)")
    plant.add_argument("--crop", required=True, help="e.g. rice_spring, maize, tomato, cabbage")
    plant.add_argument("--planted", required=True, type=_date, help="sowing/transplanting day")
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
