"""The dashboard in headless Chromium at phone width: Vietnamese first, says what to do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from backend import db
from backend.access import Scope
from backend.accounts import Accounts
from backend.audit import Audit
from backend.i18n import Message
from backend.registry import Registry
from backend.store import Point, open_store
from dashboard.api.context import ApiServices
from dashboard.app import create_app
from forecasting.advice import Advice
from ruong.forecast_job import advice_point

pytestmark = pytest.mark.browser

PASSWORD = "lua-thom-2026"


def services(tmp_path: Path, store_url: str, fields: tuple[str, ...]) -> ApiServices:
    """A registry where farmer 0912 345 678 owns `fields` of farm `f`, over `store_url`."""
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = db.open_engine(registry_url)
    accounts = Accounts(engine)
    accounts.add_organisation("HTX Yên Khánh", "coop")
    farmer = accounts.add_user("HTX Yên Khánh", "farmer", PASSWORD, phone="0912345678")
    with Registry(registry_url) as registry:
        registry.add_farm("f", "HTX Yên Khánh")
        for name in fields:
            registry.add_field("f", name, "Khánh Thiện", farmer.id)
    return ApiServices(engine, accounts, Scope(engine), Audit(engine), open_store(store_url))


def log_in(dash_duo, app, login: str = "0912345678") -> None:  # type: ignore[no-untyped-def]
    """Open the app at its login page, log in as a farmer would, land on the home page."""
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.find_element("#login").send_keys(login)
    dash_duo.find_element("#password").send_keys(PASSWORD)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#title", timeout=10)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'readings.db'}"
    now_ms = int(time.time() * 1000)
    store = open_store(url)
    paddy = {"farm": "f", "field": "ruong-1", "node": "n00000001"}
    upland = {"farm": "f", "field": "ruong-2", "node": "n00000002"}
    store.write(
        [
            Point("readings", paddy, {"water_level": -0.18, "soil_vwc": 41.5}, now_ms - 60_000),
            Point("node_status", paddy, {"battery": 3.9, "counter": 5}, now_ms - 60_000),
            Point("readings", upland, {"soil_vwc": 27.0, "air_temp": 31.2}, now_ms - 30_000),
            Point("node_status", upland, {"battery": 3.31, "counter": 9}, now_ms - 90_000),
            Point(
                "node_status",
                upland,
                {"battery": 3.31, "counter": 10, "faults": 2, "dropped": 12},
                now_ms - 30_000,
            ),
        ]
    )
    amount = Message("irrigation.amount", {"mm": 24, "m3": 36.0})
    irrigate = Advice(
        "irrigation",
        "fao56-ch8",
        3,
        Message("irrigation.today", {"amount": amount}),
        {"gross_mm": 24.0, "volume_m3": 36.0},
    )
    et0 = Advice("et0", "fao56-pm", 0, Message("et0.yesterday", {"day": "2026-03-19", "mm": 3.1}))

    def legacy(
        field: str, kind: str, model: str, level: int, vi: str, en: str, ago_ms: int
    ) -> Point:
        """A point written before the catalogue: its words rendered, in both languages."""
        tags = {"farm": "f", "field": field, "kind": kind, "model": model}
        fields = {"text_vi": vi, "text_en": en, "level": level}
        return Point("forecasts", tags, fields, now_ms - ago_ms)

    store.write(
        [
            advice_point("f", "ruong-2", irrigate, now_ms - 3_600_000),
            advice_point("f", "ruong-2", et0, now_ms - 3_600_000),
            legacy(
                "ruong-2", "irrigation", "fao56-ch8", 0, "Chưa cần tưới (cũ)", "old", 86_400_000
            ),
            legacy(
                "ruong-1",
                "pest_blast",
                "rice.blast.lwd_temp.v1",
                2,
                "bệnh đạo ôn: 2 đợt",
                "blast: 2",
                3_600_000,
            ),
            legacy(
                "ruong-1",
                "pest_bph",
                "rice.bph.degree_days.v1",
                0,
                "rầy nâu: thấp",
                "BPH: low",
                3_600_000,
            ),
        ]
    )
    store.close()
    return url


def test_phone_page_in_vietnamese_then_english(dash_duo, store_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services(tmp_path, store_url, ("ruong-1", "ruong-2")))
    # headless Chromium will not open a window under 500 px: emulate a 360 px phone instead
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 780, "deviceScaleFactor": 2, "mobile": True},
    )
    log_in(dash_duo, app)
    dash_duo.wait_for_text_to_equal("#title", "Ruộng — số liệu mới nhất", timeout=10)
    dash_duo.wait_for_element(".node-card", timeout=10)
    cards = dash_duo.find_elements(".node-card")
    assert len(cards) == 2
    text = dash_duo.find_element("#node-cards").text
    assert "Nước đã rút 18 cm dưới mặt ruộng: nên bơm nước vào ruộng" in text
    assert "Pin yếu (3,31 V)" in text  # Vietnamese decimal comma
    assert "2 số đo không đọc được: kiểm tra cảm biến" in text
    assert "Nút đã bỏ 12 lần đo" in text
    assert "Độ ẩm đất\n41,5 %" in text and "Mực nước ruộng\n-18 cm" in text
    # the newest forecast of each kind, with the equation or model that made it
    assert "Tưới hôm nay: 24 mm (khoảng 36,0 m³ cho ruộng này).\nNguồn: fao56-ch8" in text
    assert "Chưa cần tưới (cũ)" not in text and "ET0 3,1" not in text
    assert "bệnh đạo ôn: 2 đợt\nNguồn: rice.blast.lwd_temp.v1" in text
    assert "Sâu bệnh: 1 loại đã kiểm tra, chưa có nguy cơ" in text
    irrigation = dash_duo.find_element('[data-kind="irrigation"] .alert')
    assert "alert-danger" in irrigation.get_attribute("class")

    width = dash_duo.driver.execute_script("return window.innerWidth")
    scroll = dash_duo.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 360 and scroll <= width, f"page is {scroll}px wide in a {width}px window"

    dash_duo.find_element("#lang-toggle").click()
    dash_duo.wait_for_text_to_equal("#title", "Ruộng — latest readings", timeout=10)
    text = dash_duo.find_element("#node-cards").text
    assert "re-flood the field" in text and "Battery low (3.31 V)" in text
    assert "Irrigate today: 24 mm (about 36.0 m³ for this field).\nSource: fao56-ch8" in text
    assert dash_duo.get_logs() == [], "browser console errors"


def test_empty_store_tells_the_farmer_what_to_do(dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}", ("ruong-1",)))
    log_in(dash_duo, app)
    dash_duo.wait_for_contains_text("#no-nodes", "Hãy bật nút", timeout=10)


def test_a_farmer_sees_only_the_nodes_of_own_fields(
    dash_duo, store_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services(tmp_path, store_url, ("ruong-1",)))
    log_in(dash_duo, app)
    dash_duo.wait_for_element(".node-card", timeout=10)
    text = dash_duo.find_element("#node-cards").text
    assert len(dash_duo.find_elements(".node-card")) == 1
    assert "n00000001" in text and "n00000002" not in text and "ruong-2" not in text


def test_without_a_session_the_page_is_the_login_form(
    dash_duo, store_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services(tmp_path, store_url, ("ruong-1",)))
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/")
    dash_duo.wait_for_element("#login-form", timeout=10)
    assert "Số điện thoại hoặc tên đăng nhập" in dash_duo.find_element("body").text
    dash_duo.find_element("#login").send_keys("0912345678")
    dash_duo.find_element("#password").send_keys("not-the-password")
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#login-error", "Sai số điện thoại", timeout=10)
