"""`GET /api/v1/reports/season` and the report page (`/report`): the same report, scoped by
the caller's role on the server (issue 17, "Interfaces"), over the dashboard's test world
(tests/dashboard_world.py: An's paddy `lua-1` in Khánh Thiện, Bình's `lua-b` in Yên Mô)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from backend.registry import Registry
from dashboard.app import create_app
from tests.dashboard_world import (
    ADMIN,
    FARM_A,
    FARM_B,
    FARMER_A,
    OFFICER_KT,
    VIEWER,
    Login,
    World,
    build,
)

SEASON = "2026-summer"
PLANTED = dt.date(2026, 9, 1)  # a summer transplanting (May-Sep): in the season's window


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("report_api")
    w = build(root, f"sqlite:///{root / 'store.db'}", days=3)
    with Registry(str(w.services.engine.url)) as registry:
        for farm, name in ((FARM_A, "lua-1"), (FARM_B, "lua-b")):
            registry.plant(farm, name, "rice_summer", PLANTED, "silty_clay_loam", 1500.0, None, 100)
    yield w
    w.services.close()


def _client(world: World, who: Login | None) -> FlaskClient:
    client = create_app(world.services).server.test_client()
    if who is not None:
        answer = client.post(
            "/api/v1/auth/login", json={"login": who.login, "password": who.password}
        )
        assert answer.status_code == 200, answer.text
    return client


def _fields(answer) -> set[str]:  # type: ignore[no-untyped-def]
    return {f["field"] for f in answer.get_json()["fields"]}


def _today() -> dt.date:
    """The site's today (the world's readings end now)."""
    return dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


def test_each_role_gets_its_scope(world: World) -> None:
    # from the transplanting to today: the world's readings (the last three days) are inside
    # whatever today is, which a named season's window would not promise
    url = f"/api/v1/reports/season?from={PLANTED}&to={_today()}"
    assert _client(world, None).get(url).status_code == 401
    farmer = _client(world, FARMER_A).get(url)
    assert farmer.status_code == 200, farmer.text
    assert _fields(farmer) == {f"{FARM_A}/lua-1", f"{FARM_A}/ngo-1"}  # An's two fields
    officer = _client(world, OFFICER_KT).get(url)
    # Khánh Thiện only, not Yên Mô's lua-b
    assert _fields(officer) == {f"{FARM_A}/lua-1", f"{FARM_A}/ngo-1"}
    report = officer.get_json()
    by_name = {f["field"]: f for f in report["fields"]}
    assert by_name[f"{FARM_A}/ngo-1"]["water_regime"] == "no_data"  # maize: no paddy regime
    field = by_name[f"{FARM_A}/lua-1"]
    for key in ("field", "area_ha", "transplanted", "harvested", "days", "water_regime",
                "drainage_periods", "sfw", "sfp", "sfo", "ch4_kg", "baseline_ch4_kg",
                "avoided_t_co2e", "coverage"):  # fmt: skip
        assert key in field, key
    assert field["transplanted"] == PLANTED.isoformat() and field["area_ha"] == 0.15
    assert 0 < field["coverage"] < 0.1  # three days of readings in a season of 90 so far
    # the viewer: the aggregates only, no field row, no field's name anywhere
    viewer = _client(world, VIEWER).get(url)
    assert viewer.status_code == 200
    body = viewer.get_json()
    assert "fields" not in body and "charts" not in body
    assert "lua-1" not in viewer.text and body["province"]["paddy_fields"] >= 1
    assert _client(world, VIEWER).get(url + "&format=csv").status_code == 403
    # a commune the officer does not cover answers as one that does not exist
    other = _client(world, OFFICER_KT).get(url + "&scope=commune:Yên Mô")
    missing = _client(world, OFFICER_KT).get(url + "&scope=commune:Nowhere")
    assert other.status_code == missing.status_code == 404
    bad = _client(world, ADMIN).get("/api/v1/reports/season?season=2026-winter")
    assert bad.status_code == 422 and "spring" in bad.text
    named = _client(world, OFFICER_KT).get(f"/api/v1/reports/season?season={SEASON}")
    assert _fields(named) == {f"{FARM_A}/lua-1"} and named.get_json()["season"] == SEASON


def test_csv_and_pdf(world: World, tmp_path: Path) -> None:
    client = _client(world, OFFICER_KT)
    csv = client.get(f"/api/v1/reports/season?season={SEASON}&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(lines) == 2 and lines[0].startswith("field,") and "lua-1" in lines[1]
    pdf = client.get(f"/api/v1/reports/season?season={SEASON}&format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Báo cáo vụ Mùa 2026" in text and "Khánh Thiện" in text


def test_the_report_page_draws_the_callers_report(world: World) -> None:
    for who, sees_fields in ((OFFICER_KT, True), (VIEWER, False)):
        client = _client(world, who)
        body = {
            "output": "report-body.children",
            "outputs": {"id": "report-body", "property": "children"},
            "inputs": [
                {"id": "report-season", "property": "value", "value": SEASON},
                {"id": "lang", "property": "data", "value": "vi"},
            ],
            "state": [],
            "changedPropIds": ["report-season.value"],
        }
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code == 200, answer.text
        text = json.dumps(answer.get_json(), ensure_ascii=False)
        assert "report-summary" in text and "Tóm tắt" in text
        assert ("lua-1" in text) is sees_fields
        assert ("report-csv" in text) is sees_fields
    farmer = _client(world, FARMER_A).post("/_dash-update-component", json=body)
    assert "not-for-you" in json.dumps(farmer.get_json())
