"""The field page offers the farmer what the sensors saw them do, and says which reading its
advice rests on (issue 16, "What the farmer did", "Advice never contradicts its readings").

Through Dash's own callback endpoint with the Flask test client (no browser), on the world of
tests/dashboard_world.py:
- farmer An's paddy had a water-level rise 3 h ago: the card asks "Có phải bạn đã bơm nước
  vào ruộng lúc HH:MM? (nước dâng 5 cm)"; "Đúng, ghi lại" records an irrigation at the
  event's time, after which the card is gone; "Không phải" is remembered in the browser;
- an event with a record of its kind within 6 h, or older than 48 h, is not asked about;
- farmer Bình's crafted callbacks on An's field get nothing and record nothing;
- an advice point with `reading_ms` shows "theo số đo lúc HH:MM"; one without shows only
  "tính lúc".
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from backend.clock import Clock
from backend.i18n import Message, t
from backend.records import add_record, records
from backend.store import Point, open_store
from dashboard.app import create_app
from dashboard.events import EVENT_KIND, EVENT_MODEL
from forecasting.advice import Advice
from ruong.forecast_job import advice_point
from tests.dashboard_world import FARM_A, FARMER_A, FARMER_B, Login, World, build

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("events")
    store_url = f"sqlite:///{root / 'store.db'}"
    w = build(root, store_url, days=2)
    now = w.now_ms
    store = open_store(store_url)
    store.write(
        [
            _event("lua-1", "irrigation", now - 3 * HOUR_MS, now - 2 * HOUR_MS, rise_cm=5.2),
            # a drainage An recorded himself (2 h after it): not asked about
            _event("lua-1", "drainage", now - 20 * HOUR_MS, now - 19 * HOUR_MS, rise_cm=-8.0),
            # three days ago: past asking (written then, so it is also outside the read)
            _event("lua-1", "irrigation", now - 72 * HOUR_MS, now - 71 * HOUR_MS, rise_cm=6.0),
        ]
    )
    store.close()
    add_record(
        w.services.engine,
        w.field_ids["lua-1"],
        "drainage",
        time=dt.datetime.fromtimestamp((now - 18 * HOUR_MS) / 1000, dt.UTC),
    )
    yield w
    w.services.close()


def _event(field: str, kind: str, at_ms: int, written_ms: int, rise_cm: float) -> Point:
    tags = {"farm": FARM_A, "field": field, "kind": EVENT_KIND, "model": EVENT_MODEL}
    fields: dict[str, float | int | str] = {
        "event": kind,
        "at_ms": at_ms,
        "rise_cm": rise_cm,
        "msg": json.dumps({"id": f"event.{kind}.question", "params": {"when": "--"}}),
    }
    return Point("forecasts", tags, fields, written_ms)


def _client(world: World, who: Login) -> FlaskClient:
    app = create_app(world.services)
    client = app.server.test_client()
    answer = client.post("/api/v1/auth/login", json={"login": who.login, "password": who.password})
    assert answer.status_code == 200, answer.text
    return client


def _output(client: FlaskClient, prefix: str) -> str:
    """The callback's output as /_dash-dependencies names it (a duplicate output carries a
    hash suffix)."""
    deps = client.get("/_dash-dependencies").get_json()
    (found,) = [d["output"] for d in deps if d["output"].startswith(prefix)]
    return str(found)


def _call(
    client: FlaskClient,
    output: str,
    outputs: Any,
    inputs: list[Any],
    state: list[Any],
    changed: str,
) -> Any:
    body = {
        "output": output,
        "outputs": outputs,
        "inputs": inputs,
        "state": state,
        "changedPropIds": [changed],
    }
    answer = client.post("/_dash-update-component", json=body)
    if answer.status_code == 204:  # no_update everywhere
        return None
    assert answer.status_code == 200, answer.text
    return answer.get_json()["response"]


def offered(client: FlaskClient, field_id: int, dismissed: object = None) -> str:
    """The field's event cards, as text (empty when there are none)."""
    out = _call(
        client,
        _output(client, "field-events.children"),
        {"id": "field-events", "property": "children"},
        [
            {"id": "event-dismissed", "property": "data", "value": dismissed},
            {"id": "lang", "property": "data", "value": "vi"},
            {"id": "field-version", "property": "data", "value": 0},
            {"id": "pulse", "property": "data", "value": None},
        ],
        [{"id": "field-id", "property": "data", "value": str(field_id)}],
        "event-dismissed.data",
    )
    children = out["field-events"]["children"]
    return json.dumps(children, ensure_ascii=False) if children else ""


def _pressed(kind: str, key: str) -> tuple[list[Any], str]:
    ident = {"type": kind, "key": key}
    inputs = [[{"id": ident, "property": "n_clicks", "value": 1}]]
    return inputs, json.dumps(ident, sort_keys=True, separators=(",", ":")) + ".n_clicks"


def confirm(client: FlaskClient, field_id: int, key: str, mm: float | None = None) -> Any:
    """'Đúng, ghi lại' pressed on the card `key`, with `mm` in its depth box."""
    inputs, changed = _pressed("event-yes", key)
    typed = [{"id": {"type": "event-mm", "key": key}, "property": "value", "value": mm}]
    return _call(
        client,
        _output(client, "..event-result.children"),
        [
            {"id": "event-result", "property": "children"},
            {"id": "field-version", "property": "data"},
        ],
        inputs,
        [
            typed,
            {"id": "field-id", "property": "data", "value": str(field_id)},
            {"id": "field-version", "property": "data", "value": 0},
            {"id": "lang", "property": "data", "value": "vi"},
        ],
        changed,
    )


def dismiss(client: FlaskClient, field_id: int, key: str) -> Any:
    inputs, changed = _pressed("event-no", key)
    return _call(
        client,
        _output(client, "event-dismissed.data"),
        {"id": "event-dismissed", "property": "data"},
        inputs,
        [
            {"id": "event-dismissed", "property": "data", "value": None},
            {"id": "field-id", "property": "data", "value": str(field_id)},
        ],
        changed,
    )


def _hhmm(ms: int) -> str:
    """HH:MM, with " ngày dd/mm" when the moment is not on the site's today (the question
    names the day of an event before midnight)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, LOCAL)
    today = dt.datetime.now(LOCAL).date()
    return moment.strftime("%H:%M") + (
        "" if moment.date() == today else moment.strftime(" ngày %d/%m")
    )


def test_the_owner_is_asked_about_the_rise_only(world: World) -> None:
    client = _client(world, FARMER_A)
    text = offered(client, world.field_ids["lua-1"])
    at = world.now_ms - 3 * HOUR_MS
    assert f"Có phải bạn đã bơm nước vào ruộng lúc {_hhmm(at)}? (nước dâng 5 cm)" in text
    assert "Đúng, ghi lại" in text and "Không phải" in text
    assert text.count("event-yes") == 1  # not the recorded drainage, not the 3-day-old rise
    assert offered(client, world.field_ids["ngo-1"]) == ""  # nothing seen on the maize


def test_not_me_is_kept_in_the_browser_and_hides_the_card(world: World) -> None:
    client = _client(world, FARMER_A)
    field_id = world.field_ids["lua-1"]
    key = f"irrigation-{world.now_ms - 3 * HOUR_MS}"
    kept = dismiss(client, field_id, key)["event-dismissed"]["data"]
    assert kept == {str(field_id): [key]}
    assert offered(client, field_id, kept) == ""
    assert "event-yes" in offered(client, field_id)  # another phone still asks


def test_another_farmers_crafted_callbacks_get_nothing(world: World) -> None:
    client = _client(world, FARMER_B)
    field_id = world.field_ids["lua-1"]
    assert offered(client, field_id) == ""
    said = confirm(client, field_id, f"irrigation-{world.now_ms - 3 * HOUR_MS}")
    assert said["event-result"]["children"] == t("field.not_found", "vi")
    assert [r.kind for r in records(world.services.engine, field_id)] == ["drainage"]


def test_a_crafted_key_records_nothing(world: World) -> None:
    client = _client(world, FARMER_A)
    field_id = world.field_ids["lua-1"]
    said = confirm(client, field_id, f"irrigation-{world.now_ms - 5 * HOUR_MS}")
    assert said["event-result"]["children"] == "Không còn sự kiện này."
    assert [r.kind for r in records(world.services.engine, field_id)] == ["drainage"]


def test_yes_records_the_irrigation_at_the_events_time(world: World) -> None:
    """Last of the module: it changes the world (the record makes the card go)."""
    client = _client(world, FARMER_A)
    field_id = world.field_ids["lua-1"]
    at = world.now_ms - 3 * HOUR_MS
    # a paddy's rise does not say how much went in: the farmer types it
    said = confirm(client, field_id, f"irrigation-{at}")
    assert said["event-result"]["children"] == t("record.invalid.irrigation", "vi")
    said = confirm(client, field_id, f"irrigation-{at}", mm=50)
    assert said["event-result"]["children"] == "Đã ghi lại. Cảm ơn bạn!"
    assert said["field-version"]["data"] == 1  # the page redraws with the record
    (made,) = [r for r in records(world.services.engine, field_id) if r.kind == "irrigation"]
    assert made.time == dt.datetime.fromtimestamp(at / 1000, dt.UTC)
    assert made.amount_mm == 50.0
    assert offered(client, field_id) == ""  # recorded: not asked again


def field_body(client: FlaskClient, field_id: int) -> str:
    out = _call(
        client,
        _output(client, "field-body.children"),
        {"id": "field-body", "property": "children"},
        [
            {"id": "pulse", "property": "data", "value": {"t": 1}},
            {"id": "lang", "property": "data", "value": "vi"},
            {"id": "field-version", "property": "data", "value": 0},
        ],
        [{"id": "field-id", "property": "data", "value": str(field_id)}],
        "pulse.data",
    )
    return json.dumps(out["field-body"]["children"], ensure_ascii=False)


def test_advice_says_the_reading_it_was_computed_from(world: World) -> None:
    client = _client(world, FARMER_A)
    field_id = world.field_ids["ngo-1"]
    before = field_body(client, field_id)
    assert "tính lúc" in before and "theo số đo lúc" not in before  # older points: no reading
    reading_ms = world.now_ms - 40 * 60_000
    advice = Advice(
        "irrigation",
        "fao56-ch8",
        2,
        Message("irrigation.none", {"days": 7}),
        {"days_ahead": 5, "gross_mm": 0.0, "reading_ms": reading_ms},
    )
    world.services.store.write([advice_point(FARM_A, "ngo-1", advice, world.now_ms - 60_000)])
    after = field_body(_client(world, FARMER_A), field_id)  # a new server: no cached read
    assert f"theo số đo lúc {_hhmm(reading_ms)}" in after


def test_today_rows_say_the_reading_too(world: World) -> None:
    """After the advice test wrote ngo-1's advice with its reading: An's today page."""
    client = _client(world, FARMER_A)
    out = _call(
        client,
        _output(client, "today-body.children"),
        {"id": "today-body", "property": "children"},
        [
            {"id": "pulse", "property": "data", "value": {"t": 1}},
            {"id": "lang", "property": "data", "value": "vi"},
        ],
        [],
        "pulse.data",
    )
    text = json.dumps(out["today-body"]["children"], ensure_ascii=False)
    assert f"theo số đo lúc {_hhmm(world.now_ms - 40 * 60_000)}" in text


def test_the_pages_now_is_the_sites_clock(world: World) -> None:
    """On a demo clock a month ahead, the forecasts written at the real now are past their
    36 h and the readings are outside the 14 days the page reads: it says so."""
    app = create_app(world.services, clock=Clock.simulated(360, time.time() + 30 * 86400))
    client = app.server.test_client()
    login = {"login": FARMER_A.login, "password": FARMER_A.password}
    assert client.post("/api/v1/auth/login", json=login).status_code == 200  # real session
    text = field_body(client, world.field_ids["ngo-1"])
    assert "tính lúc" not in text  # no forecast younger than 36 h of site time
    assert t("ui.no_data", "vi") in text and "chart-moisture" not in text


def test_the_short_action_of_a_postponed_irrigation_and_a_recorded_reflood() -> None:
    """The today page's one line follows the advice's state, not only its level."""
    from dashboard.data import ForecastView
    from dashboard.summary import short_action

    def view(kind: str, values: dict) -> ForecastView:  # type: ignore[type-arg]
        return ForecastView("f", "x", kind, "m", 2, None, 0, values=values)

    wait = short_action(view("irrigation", {"gross_mm": 30.0, "due": "2026-12-04", "days_ahead": 0,
                                            "postponed_for_rain_mm": 18.0}))  # fmt: skip
    assert t(wait.msgid, "vi", **wait.params) == "Hoãn tưới: mưa dự báo 18 mm"
    now = short_action(view("irrigation", {"gross_mm": 30.0, "due": "2026-12-04", "days_ahead": 0}))
    assert now.msgid == "do.irrigate_today"
    recorded = short_action(view("awd", {"action": "irrigate", "recorded_ms": 1}))
    assert recorded.msgid == "do.wait_for_water"
    assert short_action(view("awd", {"action": "irrigate"})).msgid == "do.reflood_today"
