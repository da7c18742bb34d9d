"""Power budget of a node: board + sensors + transport + interval -> average current, daily
consumption, battery life without sun, and the solar balance of the worst month.

    python -m hardware.power                     # the default paddy node, 15-minute interval
    python -m hardware.power --board esp32-wroom --interval 1800 --panel-w 1
    python -m hardware.power --fast-hours 6      # 6 h/day at the duty cycle's fast interval
    python -m hardware.power --rain-mm 20        # and the rain gauge's wakes on a 20 mm day

Pure functions over the data in power_profiles.toml (every figure there is a rough, typical
one and says where it comes from). The model, per cycle of `interval_s` seconds:

    boot     board active current x boot time (deep-sleep reset to first reading)
    sensing  (board active + every sensor on the switched rail) x (settle + reading times)
    radio    (board active + radio's extra current) x radio-on time, one report per cycle
    sleep    (board deep sleep + radio sleep) x the rest of the interval
    static   (LDO quiescent + always-connected loads such as the battery divider) x interval

The firmware's duty cycle (firmware/duty.py) samples every `interval_fast_s` (default
interval / 3) while it rains or a reading is near its alert level: `fast_hours_per_day` of
the day run at that interval, the rest at `interval_s`. Each rain-gauge tip while asleep wakes
the board for a boot (firmware/hal_esp32.py `rain_wake`: counted, straight back to sleep, no
sensors, no radio): `rain_mm_per_day` / mm per tip wakes a day.

Charge in mA*s per cycle -> mAh/day; battery life = usable mAh / (consumption + self-
discharge) per day; solar harvest per day = panel W x peak sun hours x derating x charger
efficiency / battery nominal V (Wh -> mAh at the battery).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES_PATH = Path(__file__).resolve().parent / "power_profiles.toml"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS_PER_MONTH = 30.44  # mean month (d), for the self-discharge rate
RAIN_MM_PER_TIP = 0.2794  # the BOM's tipping bucket (0.011 in per tip)

# The default paddy node (issue 3): water level, air T/RH, rain, leaf wetness, battery; CoAP
# over Wi-Fi on an ESP32-DevKitC, 2 x 18650 2600 mAh in parallel, a 6 V 2 W panel.
DEFAULT_BOARD = "esp32-devkitc"
DEFAULT_SENSORS = ("jsn-sr04t", "sht31", "rain-gauge", "leaf-wetness", "battery-divider")
DEFAULT_TRANSPORT = "wifi-coap"
DEFAULT_INTERVAL_S = 900
DEFAULT_BATTERY_MAH = 5200.0
DEFAULT_PANEL_W = 2.0


class PowerError(ValueError):
    """A power-budget request that cannot be computed (unknown part, impossible numbers)."""


@dataclass(frozen=True)
class Board:
    """A board's currents at the 3.3 V rail (mA)."""

    name: str
    description: str
    sleep_ma: float
    active_ma: float
    radios: tuple[str, ...]
    bare_equivalent: str | None = None


@dataclass(frozen=True)
class Sensor:
    """Current while the sensor rail is on (mA), the time its reading adds (s), and any
    current it draws all the time (uA)."""

    name: str
    description: str
    active_ma: float
    measure_s: float
    static_ua: float


@dataclass(frozen=True)
class Transport:
    """Radio-on time per report (s), current added to the board's active current (mA),
    the radio's own sleep current (uA)."""

    name: str
    description: str
    radio: str
    radio_on_s: float
    radio_ma: float
    sleep_ua: float


@dataclass(frozen=True)
class NodeConstants:
    """Figures shared by every configuration (units in the field names)."""

    sensor_settle_s: float
    boot_s: float
    ldo_quiescent_ua: float
    battery_nominal_v: float
    usable_fraction: float
    self_discharge_pct_per_month: float
    panel_derate: float
    charger_efficiency: float
    peak_sun_hours: tuple[float, ...]  # kWh/m2/day by month, Jan..Dec


@dataclass(frozen=True)
class Profiles:
    boards: Mapping[str, Board]
    sensors: Mapping[str, Sensor]
    transports: Mapping[str, Transport]
    node: NodeConstants


@dataclass(frozen=True)
class PowerEstimate:
    """The budget of one configuration. Charges in mAh/day, currents in mA, times in s."""

    board: str
    sensors: tuple[str, ...]
    transport: str
    interval_s: float
    battery_mah: float
    panel_w: float
    fast_interval_s: float
    fast_hours_per_day: float
    reports_per_day: float
    awake_s: float  # per cycle
    avg_current_ma: float
    daily_mah: float  # consumption, without self-discharge
    daily_breakdown_mah: dict[str, float]  # boot, sensing, radio, sleep, static
    self_discharge_mah_per_day: float
    usable_mah: float
    life_days_no_sun: float
    harvest_mah_per_day: tuple[float, ...]  # by month, Jan..Dec
    net_mah_per_day: tuple[float, ...]  # harvest - consumption - self-discharge, by month
    worst_month: int  # 1..12, the month with the lowest net balance
    energy_neutral: bool  # the worst month's net balance is >= 0
    assumptions: list[str] = field(default_factory=list)


def _number(table: Mapping[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PowerError(f"{where}.{key}: expected a number >= 0, got {value!r}")
    return float(value)


def parse_profiles(data: Mapping[str, Any]) -> Profiles:
    """The parsed TOML document -> Profiles; PowerError names a missing or bad value."""
    try:
        node, battery, solar = data["node"], data["battery"], data["solar"]
        boards_t, sensors_t, transports_t = data["boards"], data["sensors"], data["transports"]
    except KeyError as exc:
        raise PowerError(f"power profiles: missing table {exc.args[0]!r}") from exc
    psh = solar.get("peak_sun_hours")
    if not isinstance(psh, list) or len(psh) != 12:
        raise PowerError("solar.peak_sun_hours: expected 12 monthly values")
    constants = NodeConstants(
        sensor_settle_s=_number(node, "sensor_settle_s", "node"),
        boot_s=_number(node, "boot_s", "node"),
        ldo_quiescent_ua=_number(node, "ldo_quiescent_ua", "node"),
        battery_nominal_v=_number(node, "battery_nominal_v", "node"),
        usable_fraction=_number(battery, "usable_fraction", "battery"),
        self_discharge_pct_per_month=_number(battery, "self_discharge_pct_per_month", "battery"),
        panel_derate=_number(solar, "panel_derate", "solar"),
        charger_efficiency=_number(solar, "charger_efficiency", "solar"),
        peak_sun_hours=tuple(_number({"h": h}, "h", "solar.peak_sun_hours") for h in psh),
    )
    boards = {
        name: Board(
            name=name,
            description=str(t.get("description", "")),
            sleep_ma=_number(t, "sleep_ma", f"boards.{name}"),
            active_ma=_number(t, "active_ma", f"boards.{name}"),
            radios=tuple(t.get("radios", ())),
            bare_equivalent=t.get("bare_equivalent"),
        )
        for name, t in boards_t.items()
    }
    sensors = {
        name: Sensor(
            name=name,
            description=str(t.get("description", "")),
            active_ma=_number(t, "active_ma", f"sensors.{name}"),
            measure_s=_number(t, "measure_s", f"sensors.{name}"),
            static_ua=_number(t, "static_ua", f"sensors.{name}"),
        )
        for name, t in sensors_t.items()
    }
    transports = {
        name: Transport(
            name=name,
            description=str(t.get("description", "")),
            radio=str(t.get("radio", "")),
            radio_on_s=_number(t, "radio_on_s", f"transports.{name}"),
            radio_ma=_number(t, "radio_ma", f"transports.{name}"),
            sleep_ua=_number(t, "sleep_ua", f"transports.{name}"),
        )
        for name, t in transports_t.items()
    }
    for board in boards.values():
        if board.bare_equivalent is not None and board.bare_equivalent not in boards:
            raise PowerError(f"boards.{board.name}: unknown bare_equivalent")
    return Profiles(boards=boards, sensors=sensors, transports=transports, node=constants)


def load_profiles(path: Path = PROFILES_PATH) -> Profiles:
    """Read and parse power_profiles.toml."""
    with path.open("rb") as f:
        return parse_profiles(tomllib.load(f))


def _pick(table: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in table:
        raise PowerError(f"unknown {what} {name!r} (known: {', '.join(sorted(table))})")
    return table[name]


def estimate(
    board: str = DEFAULT_BOARD,
    sensors: Sequence[str] = DEFAULT_SENSORS,
    transport: str = DEFAULT_TRANSPORT,
    interval_s: float = DEFAULT_INTERVAL_S,
    battery_mah: float = DEFAULT_BATTERY_MAH,
    panel_w: float = DEFAULT_PANEL_W,
    profiles: Profiles | None = None,
    fast_hours_per_day: float = 0.0,
    fast_interval_s: float | None = None,
    rain_mm_per_day: float = 0.0,
) -> PowerEstimate:
    """The power budget of one node configuration.

    board, sensors, transport: names in power_profiles.toml
    interval_s: seconds between sampling cycles, one report each (s)
    battery_mah: nominal battery capacity (mAh, e.g. 2 x 2600 mAh in parallel = 5200)
    panel_w: solar panel rating (W at STC; 0 = no panel)
    fast_hours_per_day: hours a day at the duty cycle's fast interval (h, 0..24)
    fast_interval_s: the fast interval (s; default interval_s / 3, as the firmware's)
    rain_mm_per_day: rain the gauge counts in a day (mm), each tip a wake from deep sleep
    """
    p = profiles if profiles is not None else load_profiles()
    n = p.node
    b: Board = _pick(p.boards, board, "board")
    t: Transport = _pick(p.transports, transport, "transport")
    chosen: list[Sensor] = [_pick(p.sensors, s, "sensor") for s in sensors]
    if t.radio not in b.radios:
        raise PowerError(f"board {board} has no {t.radio} radio for transport {transport}")
    if battery_mah <= 0 or panel_w < 0:
        raise PowerError("battery_mah must be > 0 and panel_w >= 0")
    if rain_mm_per_day < 0:
        raise PowerError(f"rain_mm_per_day must be >= 0, got {rain_mm_per_day:g}")
    if not 0 <= fast_hours_per_day <= 24:
        raise PowerError(f"fast_hours_per_day {fast_hours_per_day:g} is not within 0..24")
    fast_s = interval_s / 3 if fast_interval_s is None else fast_interval_s

    sensing_s = n.sensor_settle_s + sum(s.measure_s for s in chosen)
    rail_ma = sum(s.active_ma for s in chosen)
    awake_s = n.boot_s + sensing_s + t.radio_on_s
    if interval_s <= awake_s:
        raise PowerError(f"interval {interval_s:g} s is not longer than the {awake_s:.1f} s awake")
    if fast_hours_per_day and fast_s <= awake_s:
        raise PowerError(f"fast interval {fast_s:g} s is not longer than the {awake_s:.1f} s awake")
    static_ma = (n.ldo_quiescent_ua + sum(s.static_ua for s in chosen)) / 1000
    breakdown = dict.fromkeys(("boot", "sensing", "radio", "sleep", "static"), 0.0)
    reports_per_day = 0.0
    for every_s, hours in ((interval_s, 24 - fast_hours_per_day), (fast_s, fast_hours_per_day)):
        cycles = hours * 3600 / every_s
        reports_per_day += cycles
        for part, mas in (  # charge per cycle, mA*s
            ("boot", b.active_ma * n.boot_s),
            ("sensing", (b.active_ma + rail_ma) * sensing_s),
            ("radio", (b.active_ma + t.radio_ma) * t.radio_on_s),
            ("sleep", (b.sleep_ma + t.sleep_ua / 1000) * (every_s - awake_s)),
            ("static", static_ma * every_s),
        ):
            breakdown[part] += mas * cycles / 3600  # mA*s -> mAh/day
    tip_mas = b.active_ma * n.boot_s  # one rain-tip wake: a boot, then straight back to sleep
    breakdown["rain_wakes"] = rain_mm_per_day / RAIN_MM_PER_TIP * tip_mas / 3600
    daily_mah = sum(breakdown.values())
    self_discharge = battery_mah * n.self_discharge_pct_per_month / 100 / DAYS_PER_MONTH
    usable_mah = battery_mah * n.usable_fraction
    # Wh/day at the panel -> mAh/day into the battery
    harvest = tuple(
        panel_w * h * n.panel_derate * n.charger_efficiency / n.battery_nominal_v * 1000
        for h in n.peak_sun_hours
    )
    net = tuple(h - daily_mah - self_discharge for h in harvest)
    worst = min(range(12), key=lambda i: net[i])

    tips_100mm = 100 / RAIN_MM_PER_TIP
    assumptions = [
        (
            f"board {b.name}: {b.description}; deep sleep {b.sleep_ma:g} mA, "
            f"active (radio off) {b.active_ma:g} mA"
        ),
        f"boot from deep-sleep reset to the first reading: {n.boot_s:g} s at the active current",
        (
            f"sensor rail switched on at boot, settle {n.sensor_settle_s:g} s, then every "
            f"sensor on it draws until the last reading ({rail_ma:g} mA for {sensing_s:.3f} s)"
        ),
    ]
    assumptions += [
        (
            f"sensor {s.name}: {s.description}; {s.active_ma:g} mA while on, reading "
            f"{s.measure_s:g} s, {s.static_ua:g} uA always"
        )
        for s in chosen
    ]
    assumptions += [
        (
            f"transport {t.name}: {t.description}; radio on {t.radio_on_s:g} s per report at "
            f"+{t.radio_ma:g} mA, {t.sleep_ua:g} uA asleep"
        ),
        (
            f"duty cycle: {fast_hours_per_day:g} h/day every {fast_s:g} s (rain, or a reading "
            f"near its alert level), the rest every {interval_s:g} s: {reports_per_day:.0f} "
            "reports/day; the longer intervals of a low battery (2 x at 3.5 V, 4 x at 3.3 V) "
            "are not counted, so the no-sun life is a lower bound"
        ),
        (
            "one report per cycle and no retransmissions: each CoAP retry or Wi-Fi reconnect "
            "adds radio time; a backlog adds bytes but little time"
        ),
        (
            f"rain: {rain_mm_per_day:g} mm/day at {RAIN_MM_PER_TIP} mm/tip, each tip a boot "
            f"({tip_mas:.0f} mA*s, no sensors, no radio); a 100 mm day adds "
            f"{tips_100mm * tip_mas / 3600:.0f} mAh"
        ),
        (
            f"linear LDO (HT7833): battery current = rail current + "
            f"{n.ldo_quiescent_ua:g} uA quiescent"
        ),
        (
            f"battery usable {n.usable_fraction:.0%} of nominal (LDO dropout near 3.5 V, "
            f"ageing), self-discharge {n.self_discharge_pct_per_month:g} %/month"
        ),
        (
            f"solar: panel W x peak sun hours x derate {n.panel_derate:g} x charger "
            f"efficiency {n.charger_efficiency:g} / {n.battery_nominal_v:g} V; a surplus "
            "beyond a full battery is lost"
        ),
        "peak sun hours by month for Ninh Binh (approximate; verify with NASA POWER "
        "or the Global Solar Atlas): "
        + ", ".join(f"{m} {h:g}" for m, h in zip(MONTHS, n.peak_sun_hours, strict=True)),
        "monthly means only: a run of overcast days is carried by the battery (no-sun life)",
        "temperature effects on the cells and the sensors are not modelled",
    ]
    return PowerEstimate(
        board=b.name,
        sensors=tuple(s.name for s in chosen),
        transport=t.name,
        interval_s=float(interval_s),
        battery_mah=float(battery_mah),
        panel_w=float(panel_w),
        fast_interval_s=float(fast_s),
        fast_hours_per_day=float(fast_hours_per_day),
        reports_per_day=reports_per_day,
        awake_s=awake_s,
        avg_current_ma=daily_mah / 24,
        daily_mah=daily_mah,
        daily_breakdown_mah=breakdown,
        self_discharge_mah_per_day=self_discharge,
        usable_mah=usable_mah,
        life_days_no_sun=usable_mah / (daily_mah + self_discharge),
        harvest_mah_per_day=harvest,
        net_mah_per_day=net,
        worst_month=worst + 1,
        energy_neutral=net[worst] >= 0,
        assumptions=assumptions,
    )


def format_report(e: PowerEstimate, bare: PowerEstimate | None = None) -> str:
    """A readable report of `e`; `bare` is the same node on the bare module, if any."""
    w = e.worst_month - 1
    lines = [
        "Ruộng node power budget (rough: every figure is an assumption listed below)",
        f"  board      {e.board}",
        f"  sensors    {', '.join(e.sensors)}",
        (
            f"  transport  {e.transport}, one report every {e.interval_s:g} s "
            f"({e.interval_s / 60:g} min)"
            + (
                f", {e.fast_hours_per_day:g} h/day every {e.fast_interval_s:g} s"
                if e.fast_hours_per_day
                else ""
            )
        ),
        f"  battery    {e.battery_mah:g} mAh nominal, {e.usable_mah:g} mAh usable",
        f"  panel      {e.panel_w:g} W",
        "",
        f"awake per cycle          {e.awake_s:.2f} s",
        f"average current          {e.avg_current_ma:.3f} mA",
        f"consumption              {e.daily_mah:.1f} mAh/day  ("
        + ", ".join(f"{k} {v:.1f}" for k, v in e.daily_breakdown_mah.items())
        + ")",
        f"self-discharge           {e.self_discharge_mah_per_day:.1f} mAh/day",
        f"battery life, no sun     {e.life_days_no_sun:.1f} days",
        f"worst month              {MONTHS[w]} ({e.harvest_mah_per_day[w]:.0f} mAh/day "
        f"harvest, net {e.net_mah_per_day[w]:+.0f} mAh/day): "
        + ("energy-neutral" if e.energy_neutral else "NOT energy-neutral"),
        "net by month (mAh/day)   "
        + " ".join(f"{m} {v:+.0f}" for m, v in zip(MONTHS, e.net_mah_per_day, strict=True)),
    ]
    if bare is not None:
        lines += [
            "",
            f"The {e.board} board keeps its USB-UART bridge and power LED on in deep sleep; "
            f"on the bare module ({bare.board}) the same node averages {bare.avg_current_ma:.3f} mA, "
            f"{bare.daily_mah:.1f} mAh/day, {bare.life_days_no_sun:.0f} days without sun, "
            + (
                "energy-neutral"
                if bare.energy_neutral
                else f"net {bare.net_mah_per_day[bare.worst_month - 1]:+.0f} mAh/day"
            )
            + f" in {MONTHS[bare.worst_month - 1]}.",
        ]
    lines += ["", "Assumptions:"] + [f"  - {a}" for a in e.assumptions]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the power budget; exit 0, or 2 when the request cannot be computed."""
    parser = argparse.ArgumentParser(
        prog="ruong hw power", description="Estimate a node's power budget."
    )
    parser.add_argument("--board", default=DEFAULT_BOARD)
    parser.add_argument(
        "--sensors", default=",".join(DEFAULT_SENSORS), help="comma-separated sensor names"
    )
    parser.add_argument("--transport", default=DEFAULT_TRANSPORT)
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="s")
    parser.add_argument("--battery-mah", type=float, default=DEFAULT_BATTERY_MAH)
    parser.add_argument("--panel-w", type=float, default=DEFAULT_PANEL_W)
    parser.add_argument(
        "--fast-hours",
        type=float,
        default=0.0,
        help="h/day at the duty cycle's fast interval (raining, near an alert level)",
    )
    parser.add_argument(
        "--fast-interval", type=float, default=None, help="s (default: interval / 3)"
    )
    parser.add_argument(
        "--rain-mm", type=float, default=0.0, help="mm/day: each rain-gauge tip wakes the board"
    )
    parser.add_argument("--profiles", type=Path, default=PROFILES_PATH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sensors = tuple(s.strip() for s in args.sensors.split(",") if s.strip())
    try:
        profiles = load_profiles(args.profiles)

        def budget(board: str) -> PowerEstimate:
            return estimate(
                board,
                sensors,
                args.transport,
                args.interval,
                args.battery_mah,
                args.panel_w,
                profiles,
                args.fast_hours,
                args.fast_interval,
                args.rain_mm,
            )

        e = budget(args.board)
        bare_name = profiles.boards[args.board].bare_equivalent
        bare = budget(bare_name) if bare_name else None
    except PowerError as exc:
        print(f"power: {exc}", file=sys.stderr)
        return 2
    print(format_report(e, bare))
    return 0


if __name__ == "__main__":
    sys.exit(main())
