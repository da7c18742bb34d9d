"""A small world for the dashboard's browser tests, built in-process on the real registry
(SQLite) and a real store (the embedded SQLite store or a real InfluxDB, by URL).

Farmer An owns a paddy (`lua-1`, rice, water-level sensor) and an upland field (`ngo-1`,
maize) in Khánh Thiện; farmer Bình owns `lua-b` in Yên Mô. Officer KT covers Khánh Thiện,
officer YM covers Yên Mô. The coop has a technician, an admin and a viewer. Every field has
a node with 14 days of 15-minute readings and a fresh set of forecasts whose values tell the
fields apart (An's paddy needs re-flooding, An's maize irrigation before Thursday, Bình's
paddy nothing).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend import db
from backend.access import Scope
from backend.accounts import Accounts
from backend.audit import Audit
from backend.i18n import Message
from backend.registry import Registry
from backend.schema import Node
from backend.store import Point, open_store
from dashboard.api.context import ApiServices
from forecasting.advice import Advice
from ruong.forecast_job import advice_point
from ruong.services import free_port

COOP = "HTX Khánh Thiện"
COMPANY = "Công ty Yên Mô"
KT, YM = "Khánh Thiện", "Yên Mô"
FARM_A, FARM_B = "htx-kt", "yen-mo"


@dataclass(frozen=True)
class Login:
    login: str
    password: str


FARMER_A = Login("0912345678", "lua-xuan-An-2026")
FARMER_B = Login("0987654321", "lua-mua-Binh-26")
OFFICER_KT = Login("can-bo.kt", "can-bo-kt-2026")
OFFICER_YM = Login("can-bo.ym", "can-bo-ym-2026")
TECHNICIAN = Login("ky-thuat.htx", "ky-thuat-htx-26")
ADMIN = Login("quan-tri.htx", "quan-tri-htx-26")
VIEWER = Login("xem.bao-cao", "xem-bao-cao-26")

# (farm, field, commune, crop, node id, latitude, longitude, owner)
FIELDS = (
    (FARM_A, "lua-1", KT, "rice_spring", "n00000a01", 20.2151, 106.0402, FARMER_A),
    (FARM_A, "ngo-1", KT, "maize", "n00000a02", 20.2163, 106.0431, FARMER_A),
    (FARM_B, "lua-b", YM, "rice_summer", "n00000b01", 20.1405, 105.9801, FARMER_B),
)


@dataclass
class World:
    services: ApiServices
    field_ids: dict[str, int]  # field name -> the API's id
    now_ms: int


def build(tmp_path: Path, store_url: str, days: int = 14) -> World:
    """The registry and store of the world above, readings up to now."""
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = db.open_engine(registry_url)
    accounts = Accounts(engine)
    accounts.add_organisation(COOP, "coop")
    accounts.add_organisation(COMPANY, "company")
    a = accounts.add_user(COOP, "farmer", FARMER_A.password, phone=FARMER_A.login, name="An")
    b = accounts.add_user(COMPANY, "farmer", FARMER_B.password, phone=FARMER_B.login, name="Bình")
    accounts.add_user(
        COOP, "officer", OFFICER_KT.password, username=OFFICER_KT.login, communes=[KT]
    )
    accounts.add_user(
        COOP, "officer", OFFICER_YM.password, username=OFFICER_YM.login, communes=[YM]
    )
    accounts.add_user(COOP, "technician", TECHNICIAN.password, username=TECHNICIAN.login)
    accounts.add_user(COOP, "admin", ADMIN.password, username=ADMIN.login)
    accounts.add_user(COOP, "viewer", VIEWER.password, username=VIEWER.login)
    owners = {FARMER_A: a.id, FARMER_B: b.id}
    ids: dict[str, int] = {}
    planted = dt.date.today() - dt.timedelta(days=40)
    with Registry(registry_url) as registry:
        registry.add_farm(FARM_A, COOP)
        registry.add_farm(FARM_B, COMPANY)
        for farm, name, commune, crop, node, lat, lon, owner in FIELDS:
            provisioned = registry.provision(farm, name, "coap").node
            ids[name] = registry.add_field(farm, name, commune, owners[owner], lat, lon, 1500.0)
            registry.plant(farm, name, crop, planted, "silty_clay_loam", 1500.0)
            with Session(engine) as session, session.begin():  # the readings' node id
                session.execute(update(Node).where(Node.id == provisioned).values(id=node))
    store = open_store(store_url)
    now_ms = int(time.time() * 1000)
    store.write(readings(now_ms, days))
    store.write(forecasts(now_ms, planted))
    store.close()
    services = ApiServices(engine, accounts, Scope(engine), Audit(engine), open_store(store_url))
    return World(services, ids, now_ms)


def readings(now_ms: int, days: int) -> list[Point]:
    """15-minute readings of every node over `days` up to `now_ms`: soil moisture on a daily
    cycle drying down, a paddy's water level falling through −15 cm, a rain shower a day."""
    points = []
    step = 900_000
    start = now_ms - days * 86_400_000
    for farm, name, _c, crop, node, *_ in FIELDS:
        tags = {"farm": farm, "field": name, "node": node}
        for i, t_ms in enumerate(range(start, now_ms, step)):
            day = (t_ms - start) / 86_400_000
            values: dict[str, float] = {
                "soil_vwc": round(36 - 0.6 * day + 1.5 * math.sin(i / 96 * 2 * math.pi), 2),
                "air_temp": round(27 + 4 * math.sin(i / 96 * 2 * math.pi), 2),
                "air_rh": 80.0,
                "rain": 2.0 if i % 96 == 40 else 0.0,
            }
            if crop.startswith("rice"):
                values["water_level"] = round(0.05 - 0.015 * day, 4)
            points.append(Point("readings", tags, values, t_ms))
        points.append(
            Point(
                "node_status", tags, {"battery": 3.9, "rssi": -71.0, "counter": 9}, now_ms - 60_000
            )
        )
    return points


def forecasts(now_ms: int, planted: dt.date) -> list[Point]:
    """A fresh forecast set per field, as `ruong forecast run` writes them."""
    thursday = dt.date.today() + dt.timedelta(days=(3 - dt.date.today().weekday()) % 7 or 7)
    amount = Message("irrigation.amount", {"mm": 25, "m3": 37.5})
    flowering = {
        "flowering_start": (planted + dt.timedelta(days=60)).isoformat(),
        "flowering_end": (planted + dt.timedelta(days=74)).isoformat(),
    }
    out = []
    for farm, name, _c, crop, *_ in FIELDS:
        advice: list[Advice] = []
        soil = {
            "fc_pct": 36.0,
            "wp_pct": 20.0,
            "vwc_24h_pct": 27.0,
            "lo_24h_pct": 25.0,
            "hi_24h_pct": 29.0,
            "vwc_72h_pct": 25.5,
            "lo_72h_pct": 22.0,
            "hi_72h_pct": 29.0,
        }
        advice.append(Advice("soil_vwc", "soil-gbr-v1", 0, Message("soil_vwc.none"), soil))
        if name == "ngo-1":
            fields = {
                "dr_mm": 40.0,
                "raw_mm": 45.0,
                "taw_mm": 90.0,
                "stage": "development",
                "season_day": 41,
                "gross_mm": 25.0,
                "due": thursday.isoformat(),
                "days_ahead": (thursday - dt.date.today()).days,
                "volume_m3": 37.5,
            }
            text = Message(
                "irrigation.due",
                {"due": thursday.isoformat(), "days": fields["days_ahead"], "amount": amount},
            )
            advice.append(Advice("irrigation", "fao56-ch8", 2, text, fields))
        else:
            fields = {
                "dr_mm": 0.0,
                "raw_mm": 45.0,
                "taw_mm": 90.0,
                "stage": "development",
                "season_day": 41,
            }
            advice.append(
                Advice(
                    "irrigation", "fao56-ch8", 0, Message("irrigation.none", {"days": 7}), fields
                )
            )
        if name == "lua-1":
            reflood = Message(
                "awd.reflood",
                {"where": Message("awd.where.below", {"cm": 16}), "limit_cm": 15, "target_cm": 5},
            )
            advice.append(
                Advice("awd", "irri-safe-awd", 3, reflood, {"action": "irrigate", **flowering})
            )
        elif crop.startswith("rice"):
            keep = Message(
                "awd.let_dry", {"where": Message("awd.where.above", {"cm": 2}), "limit_cm": 15}
            )
            advice.append(Advice("awd", "irri-safe-awd", 0, keep, {"action": "none", **flowering}))
        out += [advice_point(farm, name, a, now_ms - 120_000) for a in advice]
    return out


def as_phone(dash_duo) -> None:  # type: ignore[no-untyped-def]
    """Headless Chromium will not open a window under 500 px: emulate a 360 px phone."""
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 780, "deviceScaleFactor": 2, "mobile": True},
    )


def log_in(dash_duo, app, who: Login, then: str = "#nav") -> None:  # type: ignore[no-untyped-def]
    """Start `app` (once per test) and log in through /login as a person would; wait for
    `then` on the page they land on."""
    if not getattr(dash_duo, "ruong_started", False):
        # a free port, not dash[testing]'s fixed sequence from 58050: another run of the
        # suite on the machine (a second checkout, CI beside a developer) would answer there
        dash_duo.start_server(app, navigate=False, port=free_port())
        dash_duo.ruong_started = True
    dash_duo.driver.delete_all_cookies()
    dash_duo.driver.get(base_url(dash_duo) + "/login")
    dash_duo.find_element("#login").send_keys(who.login)
    dash_duo.find_element("#password").send_keys(who.password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element(then, timeout=10)


def base_url(dash_duo) -> str:  # type: ignore[no-untyped-def]
    """Where dash_duo serves the app (no trailing slash)."""
    return str(dash_duo.server.url).rstrip("/")


def no_overflow(dash_duo) -> None:  # type: ignore[no-untyped-def]
    """Nothing on the page is wider than the phone's screen."""
    width = dash_duo.driver.execute_script("return window.innerWidth")
    scroll = dash_duo.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360 and scroll <= width, f"page is {scroll}px wide in a {width}px window"


def cookies(dash_duo) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The browser's cookies (its session), for requests made beside it."""
    return {c["name"]: c["value"] for c in dash_duo.driver.get_cookies()}


def tap(dash_duo, target) -> None:  # type: ignore[no-untyped-def]
    """Bring the element (or the one `target` selects) to the middle of the screen and tap
    it, as a thumb does (at once: Bootstrap's smooth scrolling would still be moving when
    the tap lands)."""
    element = dash_duo.find_element(target) if isinstance(target, str) else target
    script = "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"
    dash_duo.driver.execute_script(script, element)
    time.sleep(0.1)
    element.click()


def click_fresh(dash_duo, selector: str, tries: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Click what `selector` finds, finding it again when the page redrew it in between (a
    pulse redraws the rows with their "updated N s ago"; a user's tap lands on the new ones)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(tries):
        try:
            dash_duo.find_element(selector).click()
            return
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)


def dependencies(server: str, session: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The app's callbacks by the output they declare (`/_dash-dependencies`)."""
    found = httpx.get(f"{server}/_dash-dependencies", cookies=session).json()
    return {c["output"]: c for c in found}


def callback_request(
    server: str,
    session: dict[str, str] | None,
    output: str,
    outputs: Any,
    inputs: list[Any],
    state: list[dict[str, Any]] | None = None,
    changed: str | None = None,
) -> httpx.Response:
    """A callback request as the browser sends it, made by hand: `output` as
    /_dash-dependencies names it, `outputs` its {id, property} (a list for several), the
    inputs and state with their values; `changed` the input that fired (the first)."""
    if changed is None:
        first = inputs[0][0] if isinstance(inputs[0], list) else inputs[0]
        ident = first["id"]
        if isinstance(ident, dict):
            ident = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        changed = f"{ident}.{first['property']}"
    body = {
        "output": output,
        "outputs": outputs,
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [changed],
    }
    return httpx.post(f"{server}/_dash-update-component", json=body, cookies=session)


def text_of(answer: httpx.Response) -> str:
    """A callback's answer as text (Dash escapes every non-ASCII letter)."""
    return json.dumps(answer.json(), ensure_ascii=False, separators=(",", ":"))
