"""The farmer's pages in headless Chromium at phone width: "Hôm nay" says what to do per
field, the field page draws its history and records what the farmer did, nobody gets a field
that is not theirs through a callback, and a stalled store leaves the last values on screen
under a banner instead of a blank page."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from backend.records import records
from dashboard.app import create_app
from ruong.services import InfluxServer
from tests.conftest import wait_until
from tests.dashboard_world import (
    FARMER_A,
    World,
    as_phone,
    base_url,
    build,
    callback_request,
    click_fresh,
    cookies,
    log_in,
    no_overflow,
    tap,
    text_of,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build(tmp_path, f"sqlite:///{tmp_path / 'readings.db'}")
    yield built
    built.services.close()


def plotted(dash_duo, graph_id: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """The traces plotly.js drew in the graph `graph_id` (x, y, name)."""
    script = (
        "const g = document.getElementById(arguments[0]).querySelector('.js-plotly-plot');"
        "return g && g.data ? g.data.map(d => ({name: d.name, x: d.x, y: d.y})) : null;"
    )
    return dash_duo.driver.execute_script(script, graph_id) or []


def test_farmer_today_in_vietnamese_then_english_remembered(dash_duo, world: World) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, FARMER_A, then="#today-rows")
    rows = dash_duo.find_elements(".today-row")
    assert [r.get_attribute("data-field") for r in rows] == [
        str(world.field_ids["lua-1"]),  # level 3 first: re-flood the paddy today
        str(world.field_ids["ngo-1"]),
    ]
    first, second = (r.text for r in rows)
    assert "lua-1" in first and "Lúa xuân · đang phát triển" in first
    assert "Bơm nước vào ruộng hôm nay" in first
    assert "Tưới 25 mm trước Thứ Năm" in second and "Ngô" in second
    assert re.search(r"Cập nhật: \d+ (giây|phút) trước", second)
    assert "lua-b" not in dash_duo.find_element("#today-body").text  # Bình's field
    assert "bg-danger" in rows[0].find_element(By.CSS_SELECTOR, ".ruong-dot").get_attribute("class")
    no_overflow(dash_duo)

    dash_duo.find_element("#lang-toggle").click()
    dash_duo.wait_for_text_to_equal("#today-body h1", "Today", timeout=5)
    assert "Irrigate 25 mm before Thursday" in dash_duo.find_element("#today-body").text
    dash_duo.driver.refresh()  # remembered in the browser
    dash_duo.wait_for_text_to_equal("#today-body h1", "Today", timeout=10)
    dash_duo.wait_for_text_to_equal("#lang-toggle", "Tiếng Việt", timeout=5)


def test_field_page_draws_history_and_records_an_irrigation(dash_duo, world: World) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, FARMER_A, then="#today-rows")
    field_id = world.field_ids["ngo-1"]
    click_fresh(dash_duo, f'.today-row[data-field="{field_id}"]')
    dash_duo.wait_for_element("#chart-moisture .js-plotly-plot", timeout=10)
    assert dash_duo.driver.current_url.endswith(f"/field/{field_id}")
    assert dash_duo.find_element("#tank").get_attribute("data-pct") == "56"  # 1 - 40/90
    assert (
        "Đất còn 56 % lượng nước cây dùng được; tưới khi xuống 50 %"
        in dash_duo.find_element("#tank-text").text
    )
    wait_until(lambda: len(plotted(dash_duo, "chart-moisture")) >= 4, 10, "chart not drawn")
    traces = {t["name"]: t for t in plotted(dash_duo, "chart-moisture") if t["name"]}
    assert len(traces["Độ ẩm đất"]["y"]) >= 13 * 24  # 14 days of hourly means
    assert sum(traces["Mưa"]["y"]) == pytest.approx(2.0 * 14, abs=2.1)  # a 2 mm shower a day
    assert traces["Đã tưới"]["y"] == []
    assert not dash_duo.find_elements("#chart-water")  # maize: no paddy water chart
    no_overflow(dash_duo)

    dash_duo.find_element("#rec-mm").send_keys("20")
    dash_duo.driver.save_screenshot("/tmp/field-page.png")
    tap(dash_duo, "#rec-irrigate")
    dash_duo.wait_for_text_to_equal("#rec-result", "Đã ghi lần tưới.", timeout=10)
    wait_until(
        lambda: {t["name"]: t for t in plotted(dash_duo, "chart-moisture")}["Đã tưới"]["y"] == [20],
        10,
        "the irrigation bar did not appear",
    )
    api = httpx.get(
        f"{base_url(dash_duo)}/api/v1/fields/{field_id}/records", cookies=cookies(dash_duo)
    )
    assert api.status_code == 200
    assert [(r["kind"], r["amount_mm"]) for r in api.json()] == [("irrigation", 20.0)]

    dash_duo.find_element("#rec-mm").clear()
    dash_duo.find_element("#rec-mm").send_keys("900")  # a typing slip, refused
    tap(dash_duo, "#rec-irrigate")
    dash_duo.wait_for_text_to_equal(
        "#rec-result", "Nhập lượng nước đã tưới, từ 1 đến 500 mm.", timeout=10
    )


def test_paddy_page_draws_the_water_level_and_the_awd_line(dash_duo, world: World) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, FARMER_A, then="#today-rows")
    dash_duo.driver.get(f"{base_url(dash_duo)}/field/{world.field_ids['lua-1']}")
    dash_duo.wait_for_element("#chart-water .js-plotly-plot", timeout=10)
    wait_until(lambda: plotted(dash_duo, "chart-water"), 10, "water chart not drawn")
    (water,) = plotted(dash_duo, "chart-water")
    assert water["y"][0] > 0 > water["y"][-1]  # from flooded to below the surface, in cm
    shapes = dash_duo.driver.execute_script(
        "return document.querySelector('#chart-water .js-plotly-plot').layout.shapes"
    )
    assert {s["y0"] for s in shapes if s["type"] == "line"} == {0, -15}
    assert any(s["type"] == "rect" for s in shapes)  # the flowering window
    text = dash_duo.find_element("#field-body").text
    assert "bơm nước ngay" in text and "Nguồn: irri-safe-awd" in text
    no_overflow(dash_duo)


def test_a_farmer_gets_nothing_of_another_farmers_field_through_a_callback(
    dash_duo, world: World
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world.services)
    log_in(dash_duo, app, FARMER_A, then="#today-rows")
    session = cookies(dash_duo)
    inputs = [
        {"id": "pulse", "property": "data", "value": {"t": 1}},
        {"id": "lang", "property": "data", "value": "vi"},
        {"id": "field-version", "property": "data", "value": 0},
    ]

    def ask(field_id: object) -> httpx.Response:
        state = [{"id": "field-id", "property": "data", "value": field_id}]
        outputs = {"id": "field-body", "property": "children"}
        return callback_request(
            base_url(dash_duo), session, "field-body.children", outputs, inputs, state
        )

    own = ask(world.field_ids["ngo-1"])
    assert own.status_code == 200 and "ngo-1" in text_of(own) and "chart-moisture" in text_of(own)
    for other in (world.field_ids["lua-b"], 10**12, "1 OR 1=1", None):
        answer = ask(other)
        assert answer.status_code == 200
        assert "Không tìm thấy ruộng này." in text_of(answer)
        assert "lua-b" not in text_of(answer) and "chart" not in text_of(answer)
    # and the record callback writes nothing on Bình's field
    record_inputs = [
        {"id": "rec-irrigate", "property": "n_clicks", "value": 1},
        {"id": "rec-drain", "property": "n_clicks", "value": None},
        {"id": "rec-spray", "property": "n_clicks", "value": None},
        {"id": "rec-scout", "property": "n_clicks", "value": None},
    ]
    state = [
        {"id": "rec-mm", "property": "value", "value": 30},
        {"id": "rec-product", "property": "value", "value": None},
        {"id": "rec-pest", "property": "value", "value": "brown_planthopper"},
        {"id": "rec-count", "property": "value", "value": None},
        {"id": "field-id", "property": "data", "value": world.field_ids["lua-b"]},
        {"id": "field-version", "property": "data", "value": 0},
        {"id": "lang", "property": "data", "value": "vi"},
    ]
    output = "..rec-result.children...field-version.data.."
    outputs = [
        {"id": "rec-result", "property": "children"},
        {"id": "field-version", "property": "data"},
    ]
    server = base_url(dash_duo)
    answer = callback_request(server, session, output, outputs, record_inputs, state)
    assert "Không tìm thấy ruộng này." in text_of(answer)
    assert records(world.services.engine, world.field_ids["lua-b"]) == []
    # without a session, no callback answers at all
    anonymous = callback_request(server, None, output, outputs, record_inputs, state)
    assert anonymous.status_code == 401


@pytest.fixture
def influx_world(tmp_path: Path, influxdb: InfluxServer) -> Iterator[World]:
    built = build(tmp_path, f"{influxdb.url}_{uuid.uuid4().hex[:8]}")
    yield built
    built.services.close()


@pytest.mark.services
def test_a_stalled_store_leaves_the_last_values_under_a_banner(
    dash_duo, influx_world: World, influxdb: InfluxServer
) -> None:  # type: ignore[no-untyped-def]
    """InfluxDB stopped (SIGSTOP, as a stalled disk does) while the page is open and on a
    fresh load: the cached values and the banner within 2 s; SIGCONT: it recovers."""
    app = create_app(influx_world.services, refresh_s=1.0, fresh_s=0.5)
    as_phone(dash_duo)
    log_in(dash_duo, app, FARMER_A, then="#today-rows")
    field_url = f"{base_url(dash_duo)}/field/{influx_world.field_ids['ngo-1']}"
    dash_duo.driver.get(field_url)
    dash_duo.wait_for_element("#chart-moisture .js-plotly-plot", timeout=10)
    assert not dash_duo.find_elements("#stale-banner")
    pid = influxdb.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        dash_duo.wait_for_element("#stale-banner", timeout=1.0 + 1.2 + 2.0)  # pulse + deadline
        open_page_s = time.monotonic() - stopped
        assert dash_duo.find_element("#stale-banner").text.startswith(
            "Số liệu có thể đã cũ — cập nhật lúc "
        )
        assert dash_duo.find_elements("#chart-moisture .js-plotly-plot")  # values stay

        started = time.monotonic()
        dash_duo.driver.get(field_url)  # a fresh load while the store is stopped
        dash_duo.wait_for_element("#stale-banner", timeout=5)
        dash_duo.wait_for_element("#chart-moisture .js-plotly-plot", timeout=5)
        fresh_load_s = time.monotonic() - started
        assert "Ngô" in dash_duo.find_element("#field-body").text
        dash_duo.driver.get(base_url(dash_duo) + "/today")
        dash_duo.wait_for_element("#today-rows", timeout=5)
        assert "Tưới 25 mm" in dash_duo.find_element("#today-body").text
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"banner on the open page after {open_page_s:.1f} s, fresh load {fresh_load_s:.1f} s")
    assert fresh_load_s < 2.0 + 1.0  # the page's own 2 s, plus Chromium's navigation
    wait_until(
        lambda: not dash_duo.find_elements("#stale-banner"), 20, "did not recover after SIGCONT"
    )
