"""The technician's fleet and the admin's people page in headless Chromium: a technician lands
on their organisation's nodes, the worst first, a failing battery flagged in Vietnamese; an
admin lands on their organisation's people and disables one, exactly as `ruong user disable`
does; nobody gets another organisation's people or nodes through a hand-made callback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.node_health import NodeView
from backend.registry import Registry
from backend.store import Point
from dashboard.app import create_app
from dashboard.pages.fleet import DAY_MS, FALLING_V_PER_DAY, battery_trend, fleet_rows
from tests.dashboard_world import (
    ADMIN,
    FARM_A,
    FARMER_A,
    FARMER_B,
    TECHNICIAN,
    Login,
    World,
    as_phone,
    base_url,
    build,
    callback_request,
    cookies,
    log_in,
    no_overflow,
    text_of,
)

HOUR_MS = 3_600_000
NOT_FOR_YOU = "Trang này không dành cho tài khoản của bạn."


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build(tmp_path, f"sqlite:///{tmp_path / 'readings.db'}")
    yield built
    built.services.close()


def fleet_cases(world: World, tmp_path: Path) -> tuple[str, str]:
    """n00000a02's battery falls 0.06 V/day for 8 days to 3.32 V (low and falling); a new
    node on ngo-1 went silent 3 h ago (offline); a new one on lua-1 never reported.
    Returns (the offline node, the silent one)."""
    now = world.now_ms
    tags = {"farm": FARM_A, "field": "ngo-1", "node": "n00000a02"}
    points = [
        Point("node_status", tags, {"battery": round(3.32 + 0.06 * h / 24, 3)}, now - h * HOUR_MS)
        for h in range(1, 8 * 24)
    ]
    points.append(Point("node_status", tags, {"battery": 3.32, "rssi": -97.0}, now - 30_000))
    with Registry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        offline = registry.provision(FARM_A, "ngo-1", "coap").node
        silent = registry.provision(FARM_A, "lua-1", "coap").node
    quiet = {"farm": FARM_A, "field": "ngo-1", "node": offline}
    points.append(Point("node_status", quiet, {"battery": 3.95, "rssi": -80.0}, now - 3 * HOUR_MS))
    world.services.store.write(points)
    return offline, silent


def api_session(server: str, who: Login) -> dict[str, str]:
    """A session cookie of `who`, logged in through the API."""
    answer = httpx.post(
        f"{server}/api/v1/auth/login", json={"login": who.login, "password": who.password}
    )
    assert answer.status_code == 200, answer.text
    return {"ruong_session": answer.json()["token"]}


def refresh_callback(server: str, session: dict[str, str], page: str) -> httpx.Response:
    """The page's redraw on a new pulse (`page`: fleet, admin)."""
    inputs = [
        {"id": "pulse", "property": "data", "value": {"t": 1}},
        {"id": "lang", "property": "data", "value": "vi"},
    ]
    output = f"{page}-body.children"
    outputs = {"id": f"{page}-body", "property": "children"}
    return callback_request(server, session, output, outputs, inputs)


def size(answer: httpx.Response) -> str:
    """The answer's bytes on the wire (gzip: create_app compresses) and as JSON."""
    return f"{answer.headers.get('content-length')} B gzip, {len(answer.content)} B JSON"


def disable_callback(server: str, session: dict[str, str], user: object) -> httpx.Response:
    button = {"type": "disable-user", "user": user}
    inputs = [[{"id": button, "property": "n_clicks", "value": 1}]]
    state = [{"id": "lang", "property": "data", "value": "vi"}]
    changed = json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"
    output = "..admin-users.children...admin-notice.children.."
    outputs = [
        {"id": "admin-users", "property": "children"},
        {"id": "admin-notice", "property": "children"},
    ]
    return callback_request(server, session, output, outputs, inputs, state, changed)


def test_the_battery_trend_is_the_slope_of_whole_days_and_needs_three_of_them() -> None:
    falling = [(d * DAY_MS, 3.9 - 0.06 * d) for d in range(7)]
    assert battery_trend(falling) == pytest.approx(-0.06)
    assert battery_trend(falling[:2]) is None
    assert battery_trend([(0, 3.9), (0, 3.8), (0, 3.7)]) is None  # one day, thrice
    assert FALLING_V_PER_DAY == 0.05


def test_fleet_rows_put_the_silent_first_the_revoked_last_and_survive_an_unread_store() -> None:
    now = 100 * DAY_MS
    nodes = [
        {"node": n, "farm": "f", "field": "x", "revoked": n == "r"}
        for n in ("ok", "r", "gone", "new")
    ]
    views = [
        NodeView("ok", "x", "f", now - 60_000, {"battery": 3.9}),
        NodeView("r", "x", "f", now - 60_000, {"battery": 3.9}),
        NodeView("gone", "x", "f", now - 2 * 3_600_000, {"battery": 3.9}),
    ]
    rows = fleet_rows(nodes, views, {"ok": -0.02}, now)
    assert [(r.node, r.health) for r in rows] == [
        ("gone", "bad"),
        ("new", "warn"),
        ("ok", "ok"),  # falling, but no faster than a week without sun
        ("r", "ok"),
    ]
    assert [a.key for a in rows[1].advice] == ["never_reported"] and rows[3].advice == ()
    unread = fleet_rows(nodes, None, {}, now)
    assert {r.known for r in unread} == {False} and unread[-1].node == "r"


@pytest.mark.browser
def test_technician_lands_on_the_fleet_worst_first_with_the_failing_battery_flagged(
    dash_duo, world: World, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    offline, silent = fleet_cases(world, tmp_path)
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, TECHNICIAN, then="#fleet-nodes")
    assert dash_duo.driver.current_url.rstrip("/") == base_url(dash_duo)  # "/"
    rows = dash_duo.find_elements(".fleet-row")
    assert [r.get_attribute("data-node") for r in rows] == [
        offline,
        "n00000a02",
        silent,
        "n00000a01",
    ]
    assert [r.get_attribute("data-health") for r in rows] == ["bad", "warn", "warn", "ok"]
    page = dash_duo.find_element("#fleet-body").text
    assert "n00000b01" not in page and "lua-b" not in page  # the company's node and field

    quiet, failing, never, fine = (r.text for r in rows)
    assert "3 giờ trước" in quiet and "Mất liên lạc: kiểm tra pin và ăng-ten của nút" in quiet
    assert "htx-kt/ngo-1" in failing and "Pin: 3,32 V ↓ −0,06 V/ngày" in failing
    assert "Pin yếu (3,32 V): thay hoặc sạc pin sớm" in failing
    assert "Pin tụt nhanh (0,06 V/ngày)" in failing and "Sóng: −97 dBm" in failing
    assert "Chưa gửi lần nào" in never and "Chưa gửi số liệu lần nào" in never
    assert "trước" in fine and "Không cần làm gì lúc này" in fine
    assert "1 mất liên lạc · 2 cần xem · 1 ổn" in page
    no_overflow(dash_duo)

    dash_duo.find_element("#lang-toggle").click()
    dash_duo.wait_for_text_to_equal("#fleet-body h1", "Sensor nodes", timeout=5)
    english = dash_duo.find_element(".fleet-row[data-node='n00000a02']").text
    assert "Battery low (3.32 V): replace or charge it soon" in english
    assert "Battery: 3.32 V ↓ −0.06 V/day" in english
    no_overflow(dash_duo)

    technician = refresh_callback(base_url(dash_duo), cookies(dash_duo), "fleet")
    assert technician.status_code == 200 and "n00000a02" in technician.text
    print(f"\nfleet redraw, {len(rows)} nodes: {size(technician)}")
    # a farmer's session gets the page's refusal and no node of anyone's
    farmer = refresh_callback(
        base_url(dash_duo), api_session(base_url(dash_duo), FARMER_A), "fleet"
    )
    assert farmer.status_code == 200 and NOT_FOR_YOU in text_of(farmer)
    assert (
        "n0000" not in farmer.text and offline not in farmer.text and "battery" not in farmer.text
    )


@pytest.mark.browser
def test_admin_sees_their_people_and_disables_a_farmer_as_the_command_line_does(
    dash_duo, world: World
) -> None:  # type: ignore[no-untyped-def]
    accounts, audit = world.services.accounts, world.services.audit
    farmer_a, farmer_b = accounts.user(FARMER_A.login), accounts.user(FARMER_B.login)
    admin = accounts.user(ADMIN.login)
    app = create_app(world.services)
    as_phone(dash_duo)
    log_in(dash_duo, app, ADMIN, then="#admin-users")
    assert dash_duo.driver.current_url.rstrip("/") == base_url(dash_duo)  # "/"
    orgs = dash_duo.find_element("#admin-orgs").text
    assert "HTX Khánh Thiện" in orgs and "Hợp tác xã · 6 người dùng" in orgs
    assert "Công ty Yên Mô" not in orgs
    rows = {r.get_attribute("data-user"): r for r in dash_duo.find_elements(".admin-user")}
    coop = {u.id for u in accounts.users("HTX Khánh Thiện")}
    assert set(rows) == {str(i) for i in coop} and str(farmer_b.id) not in rows
    people = dash_duo.find_element("#admin-users").text
    assert "0987 654 321" not in people and "Bình" not in people  # the company's farmer
    assert (
        "0912 345 678" in rows[str(farmer_a.id)].text and "Nông dân" in rows[str(farmer_a.id)].text
    )
    officer = rows[str(accounts.user("can-bo.kt").id)].text
    assert "Cán bộ xã (Khánh Thiện)" in officer and "Chưa đăng nhập lần nào" in officer
    mine = rows[str(admin.id)]
    assert "(bạn)" in mine.text and "Đăng nhập lần cuối: " in mine.text
    assert not mine.find_elements("css selector", "button")  # nobody disables themselves
    no_overflow(dash_duo)

    dash_duo.find_element(f".admin-user[data-user='{farmer_a.id}'] button").click()
    dash_duo.wait_for_contains_text(
        "#admin-notice", "Đã khóa 0912 345 678: người này không đăng nhập được nữa.", timeout=10
    )
    row = dash_duo.find_element(f".admin-user[data-user='{farmer_a.id}']")
    assert row.get_attribute("data-state") == "disabled" and "Đã khóa" in row.text
    assert accounts.user(FARMER_A.login).disabled
    (event,) = [e for e in audit.events(action="user.disable") if e.outcome == "success"]
    assert (event.actor, event.target, event.organisation) == (
        ADMIN.login,
        farmer_a.login,
        "HTX Khánh Thiện",
    )
    no_overflow(dash_duo)

    # a hand-made callback with the admin's cookie: another organisation's person, the
    # admin themselves, ids that name nobody: nothing changes, nothing is told
    session = cookies(dash_duo)
    redraw = refresh_callback(base_url(dash_duo), session, "admin")
    print(f"\nadmin redraw, {len(rows)} people: {size(redraw)}")
    for other in (farmer_b.id, 10**12, "1 OR 1=1", True, None):
        answer = disable_callback(base_url(dash_duo), session, other)
        assert answer.status_code == 200, answer.text
        assert "Không tìm thấy người dùng này." in text_of(answer)
        assert "0987" not in text_of(answer) and "Bình" not in text_of(answer)
    assert not accounts.user(FARMER_B.login).disabled
    own = disable_callback(base_url(dash_duo), session, admin.id)
    assert "Bạn không thể tự khóa tài khoản của mình." in text_of(own)
    assert not accounts.user(ADMIN.login).disabled
    events = audit.events(action="user.disable")
    assert [e.target for e in events if e.outcome == "success"] == [farmer_a.login]
    assert sum(e.outcome == "refused" for e in events) == 5
    # a technician's session disables nobody either
    technician = api_session(base_url(dash_duo), TECHNICIAN)
    answer = disable_callback(base_url(dash_duo), technician, farmer_b.id)
    assert NOT_FOR_YOU in text_of(answer) and not accounts.user(FARMER_B.login).disabled

    # the disabled farmer can no longer log in
    log_in(dash_duo, app, FARMER_A, then="#login-error")
    assert (
        "Sai số điện thoại, tên đăng nhập hoặc mật khẩu."
        in dash_duo.find_element("#login-error").text
    )
    login = httpx.post(
        f"{base_url(dash_duo)}/api/v1/auth/login",
        json={"login": FARMER_A.login, "password": FARMER_A.password},
    )
    assert login.status_code == 401
