"""The officer's commune overview in headless Chromium at phone width: only the fields of the
officer's communes, filtered on the server, on a map drawn without any tile service, and the
alerts firing on them acknowledged with what was done; nothing of another commune through a
crafted callback."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.alerts.engine import Evaluator
from backend.alerts.store import AlertStore, AlertView
from backend.i18n import Message
from backend.registry import Registry
from dashboard.app import create_app
from forecasting.advice import Advice
from ruong.forecast_job import advice_point
from tests.conftest import wait_until
from tests.dashboard_world import (
    FARM_B,
    OFFICER_KT,
    OFFICER_YM,
    World,
    as_phone,
    base_url,
    build,
    callback_request,
    cookies,
    dependencies,
    log_in,
    no_overflow,
    tap,
    text_of,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The dashboard's world with two alerts firing, through the real evaluator: An's paddy
    (lua-1, Khánh Thiện) must be re-flooded (the world's AWD advice), and Bình's paddy
    (lua-b, Yên Mô) irrigated today (a forecast written here as `ruong forecast run` does)."""
    built = build(tmp_path, f"sqlite:///{tmp_path / 'readings.db'}")
    amount = Message("irrigation.amount", {"mm": 30, "m3": 45.0})
    today = Advice(
        "irrigation",
        "fao56-ch8",
        3,
        Message("irrigation.today", {"amount": amount}),
        {
            "days_ahead": 0,
            "gross_mm": 30.0,
            "due": dt.date.today().isoformat(),
            "stage": "development",
        },
    )
    built.services.store.write([advice_point(FARM_B, "lua-b", today, built.now_ms - 60_000)])
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    evaluator = Evaluator(registry, built.services.store, "Asia/Ho_Chi_Minh", quiet_hours=())
    now = datetime.now(UTC)
    # pending, then firing after the 20 min pending period (backend/alerts/lifecycle.py);
    # evaluated in the past, before the deadline of "today" whatever the hour of the run
    for minutes in (25, 1):
        evaluator.run_once(now - timedelta(minutes=minutes))
    registry.close()
    yield built
    built.services.close()


def firing(world: World, field: str) -> AlertView:
    (alert,) = [
        a
        for a in AlertStore(world.services.engine).alerts("firing")
        if a.field_id == world.field_ids[field]
    ]
    return alert


def rows(dash_duo) -> list[str]:  # type: ignore[no-untyped-def]
    """The data-field of each row, read at once (a redraw must not stale the elements)."""
    script = "return [...document.querySelectorAll('.commune-row')].map(r => r.dataset.field);"
    return dash_duo.driver.execute_script(script) or []


def map_points(dash_duo) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The points plotly.js drew in `commune-map`: x (longitude), y (latitude), text."""
    script = (
        "const g = document.getElementById('commune-map').querySelector('.js-plotly-plot');"
        "if (!g || !g.data) return null;"
        "return g.data.flatMap(d => d.x.map((x, i) => ({x: x, y: d.y[i], text: d.text[i]})));"
    )
    return dash_duo.driver.execute_script(script) or []


FILTERS = (
    "commune-filter-level",
    "commune-filter-crop",
    "commune-filter-stage",
    "commune-filter-old",
)


def refresh_request(server: str, session: dict[str, str], **chosen: str) -> httpx.Response:
    """The fields-and-map callback with the filters `chosen` (the others: all)."""
    found = dependencies(server, session)
    (output,) = [o for o in found if "commune-fields.children" in o]
    outputs = [
        {"id": i, "property": p}
        for i, p in (
            ("commune-stale", "children"),
            ("commune-fields", "children"),
            ("commune-map", "figure"),
            ("commune-map-box", "hidden"),
            ("commune-no-location", "children"),
            ("commune-more", "hidden"),
        )
    ]
    inputs: list[dict[str, Any]] = [
        {"id": "pulse", "property": "data", "value": {"t": 1}},
        {"id": "lang", "property": "data", "value": "vi"},
        *({"id": f, "property": "value", "value": chosen.get(f, "all")} for f in FILTERS),
        {"id": "commune-sort", "property": "value", "value": chosen.get("commune-sort", "urgency")},
        {"id": "commune-more", "property": "n_clicks", "value": None},
    ]
    return callback_request(server, session, output, outputs, inputs)


def ack_request(server: str, session: dict[str, str], alert_id: int, note: str) -> httpx.Response:
    found = dependencies(server, session)
    (output,) = [o for o in found if '"ack-box"' in o]
    outputs = {"id": {"alert": alert_id, "type": "ack-box"}, "property": "children"}
    inputs: list[dict[str, Any]] = [
        {"id": {"alert": alert_id, "type": "ack"}, "property": "n_clicks", "value": 1}
    ]
    state: list[dict[str, Any]] = [
        {"id": {"alert": alert_id, "type": "ack-note"}, "property": "value", "value": note},
        {"id": "lang", "property": "data", "value": "vi"},
    ]
    return callback_request(server, session, output, outputs, inputs, state)


def inbox_request(server: str, session: dict[str, str]) -> httpx.Response:
    inputs: list[dict[str, Any]] = [
        {"id": "pulse", "property": "data", "value": {"t": 1}},
        {"id": "lang", "property": "data", "value": "vi"},
    ]
    outputs = {"id": "alert-inbox", "property": "children"}
    return callback_request(server, session, "alert-inbox.children", outputs, inputs)


def test_the_officer_sees_the_commune_filters_it_and_acknowledges_an_alert(
    dash_duo, world: World
) -> None:  # type: ignore[no-untyped-def]
    lua_1, ngo_1, lua_b = (str(world.field_ids[n]) for n in ("lua-1", "ngo-1", "lua-b"))
    kt_alert, ym_alert = firing(world, "lua-1"), firing(world, "lua-b")
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, OFFICER_KT, then="#commune-fields")  # "/" is the overview
    assert dash_duo.driver.current_url.rstrip("/") == base_url(dash_duo)
    assert rows(dash_duo) == [lua_1, ngo_1]  # re-flood today (level 3) first
    body = dash_duo.find_element("#commune-body").text
    assert "Ruộng trong xã Khánh Thiện" in body
    first, second = (r.text for r in dash_duo.find_elements(".commune-row"))
    assert "lua-1" in first and "Khánh Thiện" in first and "Lúa xuân · đang phát triển" in first
    assert "Bơm nước vào ruộng hôm nay" in first and "Cập nhật:" in first
    assert "Tưới 25 mm trước Thứ Năm" in second and "Ngô" in second
    assert "lua-b" not in body and "Yên Mô" not in body
    row = dash_duo.find_element(f'.commune-row[data-field="{lua_1}"]')
    assert row.get_attribute("href").endswith(f"/field/{lua_1}")  # scouting is recorded there

    # the map: both fields where the registry puts them, east-west true to the ground
    wait_until(lambda: len(map_points(dash_duo)) == 2, 10, "the map has not drawn 2 points")
    points = {p["text"]: p for p in map_points(dash_duo)}
    assert set(points) == {"lua-1", "ngo-1"}
    assert (points["lua-1"]["x"], points["lua-1"]["y"]) == (106.0402, 20.2151)
    layout = dash_duo.driver.execute_script(
        "return document.querySelector('#commune-map .js-plotly-plot').layout.yaxis"
    )
    assert layout["scaleanchor"] == "x" and layout["scaleratio"] == pytest.approx(1.066, abs=1e-3)
    assert not dash_duo.find_element("#commune-no-location").text
    no_overflow(dash_duo)

    # level 3 only: the filter is applied on the server
    dash_duo.find_element("#commune-filters summary").click()
    tap(dash_duo, dash_duo.find_element('#commune-filter-level input[value="3"]'))
    wait_until(lambda: rows(dash_duo) == [lua_1], 10, lambda: f"rows {rows(dash_duo)}")
    assert dash_duo.find_element("#commune-count").text == "1/2 ruộng"
    wait_until(lambda: len(map_points(dash_duo)) == 1, 10, "the map did not follow the filter")
    tap(dash_duo, dash_duo.find_element('#commune-filter-level input[value="all"]'))
    wait_until(lambda: len(rows(dash_duo)) == 2, 10, "the level filter did not clear")
    no_overflow(dash_duo)

    # the inbox: the commune's alert, none of Yên Mô's; acknowledged with what was done
    items = dash_duo.find_elements(".inbox-item")
    assert [i.get_attribute("data-alert") for i in items] == [str(kt_alert.id)]
    assert "Ruộng lua-1" in items[0].text and "bơm nước ngay" in items[0].text
    assert "Từ " in items[0].text
    item = f'.inbox-item[data-alert="{kt_alert.id}"]'
    dash_duo.find_element(f"{item} input").send_keys("đã bơm nước vào ruộng")
    tap(dash_duo, dash_duo.find_element(f"{item} button"))
    dash_duo.wait_for_contains_text(item, "can-bo.kt đã xác nhận lúc", timeout=10)
    assert "Đã làm: đã bơm nước vào ruộng" in dash_duo.find_element(item).text
    no_overflow(dash_duo)
    acked = AlertStore(world.services.engine).alerts(ids=[kt_alert.id])[0]
    officer = world.services.accounts.user_id(OFFICER_KT.login)
    assert (acked.acked_by, acked.ack_note) == (officer, "đã bơm nước vào ruộng")
    session = cookies(dash_duo)
    server = base_url(dash_duo)
    api = httpx.get(f"{server}/api/v1/alerts", params={"state": "firing"}, cookies=session)
    assert [(a["id"], a["ack_note"]) for a in api.json()] == [
        (kt_alert.id, "đã bơm nước vào ruộng")
    ]
    (event,) = world.services.audit.events(action="alert.ack")
    assert (event.actor, event.target) == (OFFICER_KT.login, f"alert:{kt_alert.id}")
    dash_duo.driver.refresh()  # kept: the inbox shows it acknowledged on a new load
    dash_duo.wait_for_contains_text(item, "đã xác nhận", timeout=10)

    # crafted callbacks with the officer's session get nothing of Yên Mô
    answer = ack_request(server, session, ym_alert.id, "tôi không phải cán bộ xã này")
    assert answer.status_code == 200 and "Không tìm thấy cảnh báo này." in text_of(answer)
    assert AlertStore(world.services.engine).alerts(ids=[ym_alert.id])[0].acked_at is None
    for chosen in ({"commune-filter-crop": "rice_summer"}, {"commune-filter-level": "3"}, {}):
        answer = refresh_request(server, session, **chosen)
        assert answer.status_code == 200
        assert "lua-b" not in text_of(answer) and lua_b not in rows_of(answer)
    assert "commune-none-match" in text_of(
        refresh_request(server, session, **{"commune-filter-crop": "rice_summer"})
    )
    old_only = refresh_request(server, session, **{"commune-filter-old": "old"})
    assert "commune-none-match" in text_of(old_only)  # every node reported a minute ago
    inbox = inbox_request(server, session)
    assert inbox.status_code == 200 and "Ruộng lua-1" in text_of(inbox)
    assert "Tưới hôm nay" not in text_of(inbox) and f'"data-alert":"{ym_alert.id}"' not in text_of(
        inbox
    )
    assert ym_alert.id not in {a["id"] for a in api.json()}
    assert httpx.post(f"{server}/_dash-update-component", json={}).status_code == 401

    # what the page's callbacks weigh on the wire, as the browser received them
    sizes = dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('_dash-update-component'))"
        ".map(e => [e.decodedBodySize, e.encodedBodySize]);"
    )
    largest = max(sizes)
    biggest = refresh_request(server, session)
    print(
        f"largest callback answer in the browser: {largest[0]} B ({largest[1]} B gzip); "
        f"fields+map answer: {len(biggest.content)} B ({len(gzip.compress(biggest.content))} B gzip)"
    )
    assert largest[0] < 20_000


def rows_of(answer: httpx.Response) -> set[str]:
    """The data-field values of the rows in a callback's answer."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "data-field" in node:
                found.add(str(node["data-field"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(answer.json())
    return found


def test_the_yen_mo_officer_sees_only_yen_mo(dash_duo, world: World) -> None:  # type: ignore[no-untyped-def]
    ym_alert = firing(world, "lua-b")
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, OFFICER_YM, then="#commune-fields")
    assert rows(dash_duo) == [str(world.field_ids["lua-b"])]
    body = dash_duo.find_element("#commune-body").text
    assert "Ruộng trong xã Yên Mô" in body and "Tưới 30 mm hôm nay" in body
    assert "lua-1" not in body and "ngo-1" not in body and "Khánh Thiện" not in body
    items = dash_duo.find_elements(".inbox-item")
    assert [i.get_attribute("data-alert") for i in items] == [str(ym_alert.id)]
    assert "Tưới hôm nay: 30 mm" in items[0].text
    wait_until(lambda: len(map_points(dash_duo)) == 1, 10, "the map has not drawn 1 point")
    no_overflow(dash_duo)
    dash_duo.find_element("#lang-toggle").click()
    dash_duo.wait_for_contains_text("#commune-body", "Fields in Yên Mô", timeout=10)
    dash_duo.wait_for_contains_text("#alert-inbox", "Irrigate today: 30 mm", timeout=10)
    assert "Irrigate 30 mm today" in dash_duo.find_element("#commune-fields").text
    assert dash_duo.get_logs() == [], "browser console errors"


def test_a_large_commune_is_paged_and_fields_without_a_place_are_named(
    dash_duo, world: World, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """25 more fields in Yên Mô, registered without coordinates: 15 rows, then "show more";
    the map keeps its one placed field and names the others."""
    with Registry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        for i in range(25):
            registry.add_field(FARM_B, f"ym-{i:02d}", "Yên Mô", None)
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, OFFICER_YM, then="#commune-fields")
    assert len(rows(dash_duo)) == 15
    assert dash_duo.find_element("#commune-count").text == "26/26 ruộng"
    assert "Đang hiện 15 ruộng đầu." in dash_duo.find_element("#commune-fields").text
    assert dash_duo.find_element("#commune-no-location").text.startswith(
        "Chưa có vị trí: ym-00, ym-01"
    )
    wait_until(lambda: len(map_points(dash_duo)) == 1, 10, "the map has not drawn 1 point")
    no_overflow(dash_duo)
    tap(dash_duo, dash_duo.find_element("#commune-more"))
    wait_until(lambda: len(rows(dash_duo)) == 26, 10, lambda: f"{len(rows(dash_duo))} rows")
    assert "Đang hiện" not in dash_duo.find_element("#commune-fields").text
    assert not dash_duo.find_element("#commune-more").is_displayed()
    page = refresh_request(base_url(dash_duo), cookies(dash_duo))
    print(f"fields+map answer with 15 rows and 26 fields: {len(page.content)} B")
    assert len(page.content) < 20_000
