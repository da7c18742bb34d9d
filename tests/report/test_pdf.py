"""The season report's PDF (backend/report/pdf.py): a province officer opens it and reads
Vietnamese with every diacritic, the summary and field tables, a water level chart per sampled
field and the method with each factor's source; the text is checked as poppler's pdftotext
extracts it, and the fonts as pdffonts lists them (both from the Debian package poppler-utils,
which `make test` installs: missing, the tests fail rather than skip)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backend.report import pdf

POPPLER = "poppler-utils"
HOUR_MS = 3600 * 1000
SEASON_START = dt.datetime(2026, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: install the Debian package {POPPLER} (make test does)")
    return found


def extract(document: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    """The PDF's text as pdftotext gives it, whitespace runs folded to one space."""
    path = tmp_path / "report.pdf"
    path.write_bytes(document)
    args = [tool("pdftotext"), *(["-layout"] if layout else []), str(path), "-"]
    text = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return " ".join(text.split())


def levels(days: int, drains: list[tuple[int, int]], gap: tuple[int, int] | None = None) -> list:
    """Hourly [unix_ms, level_m] from SEASON_START: 5 cm of water, falling to -18 cm over each
    (first day, last day) drain, then refilled; no points in the `gap` (first, last hour)."""
    points = []
    for hour in range(days * 24):
        if gap and gap[0] <= hour <= gap[1]:
            continue
        day = hour / 24
        level = 0.05
        for first, last in drains:
            if first <= day <= last:
                level = 0.05 - 0.23 * (day - first) / (last - first)
        ms = int((SEASON_START + dt.timedelta(hours=hour)).timestamp() * 1000)
        points.append([ms, round(level, 3)])
    return points


def alerts(total: int) -> dict[str, Any]:
    return {
        "total": total,
        "by_rule": {"forecast:awd": total},
        "by_level": {"3": total},
        "acknowledged_share": 0.75 if total else None,
        "median_ack_minutes": 42.0 if total else None,
        "followed_48h_share": 0.5 if total else None,
        "escalations": 1 if total else 0,
    }


def field(
    name: str, commune: str, regime: str, area: float, days: int, drains: int, ch4: float | None
) -> dict[str, Any]:
    baseline = None if ch4 is None else 1.22 * days * area
    avoided_kg = None if ch4 is None or baseline is None else baseline - ch4
    avoided_t = None if avoided_kg is None else avoided_kg * 27 / 1000
    return {
        "field": name,
        "field_id": abs(hash(name)) % 1000,
        "farm": name.split("/")[0],
        "commune": commune,
        "organisation": "HTX Khánh Thiện",
        "crop": "rice_spring" if ch4 is not None else "maize",
        "variety": "tbr225" if ch4 is not None else None,
        "area_ha": area,
        "transplanted": "2026-02-01",
        "harvested": "2026-06-01",
        "days": days,
        "water_regime": regime,
        "drainage_periods": [
            {"start": "2026-03-01T06:00:00+07:00", "end": "2026-03-05T06:00:00+07:00", "days": 4.0}
        ]
        * drains,
        "coverage": 0.96,
        "sfw": {"continuously_flooded": 1.0, "single_drainage": 0.71}.get(regime, 0.55),
        "sfp": 1.0,
        "sfo": 1.0,
        "ch4_kg": ch4,
        "baseline_ch4_kg": baseline,
        "avoided_ch4_kg": avoided_kg,
        "avoided_t_co2e": avoided_t,
        "irrigation_m3": 1200.0 * area,
        "advice_delivered": 30,
        "alerts": alerts(2),
    }


def aggregate(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    paddies = [f for f in fields if f["ch4_kg"] is not None]
    regimes = {r: 0 for r in pdf.REGIMES}
    for f in fields:
        regimes[f["water_regime"]] += 1
    avoided = sum(f["avoided_t_co2e"] for f in paddies)
    return {
        "name": name,
        "fields": len(fields),
        "paddy_fields": len(paddies),
        "area_ha": sum(f["area_ha"] for f in fields),
        "regimes": regimes,
        "ch4_kg": sum(f["ch4_kg"] for f in paddies),
        "baseline_ch4_kg": sum(f["baseline_ch4_kg"] for f in paddies),
        "avoided_ch4_kg": sum(f["avoided_ch4_kg"] for f in paddies),
        "avoided_t_co2e": avoided,
        "avoided_t_co2e_range": [avoided * 0.39, avoided * 1.88],
        "irrigation_m3": sum(f["irrigation_m3"] for f in fields),
        "water_comparison": {},
        "advice_delivered": 30 * len(fields),
        "alerts": alerts(2 * len(fields)),
        "coverage": 0.96 if paddies else None,
    }


METHOD = [
    {
        "name": "EFc",
        "value": 1.22,
        "range": [0.83, 1.81],
        "source": "IPCC 2019 Refinement, Vol. 4, Ch. 5, Table 5.11, South-East Asia",
    },
    *[
        {
            "name": f"SFw {regime}",
            "value": value,
            "range": span,
            "source": "IPCC 2019 Refinement, Vol. 4, Ch. 5, Table 5.12",
        }
        for regime, value, span in (
            ("continuously_flooded", 1.0, [0.73, 1.27]),
            ("single_drainage", 0.71, [0.53, 0.94]),
            ("multiple_drainage", 0.55, [0.41, 0.72]),
        )
    ],
    {
        "name": "SFp",
        "value": 1.0,
        "range": [0.88, 1.12],
        "source": "IPCC 2019 Refinement, Vol. 4, Ch. 5, Table 5.13",
    },
    {
        "name": "SFo",
        "value": 1.0,
        "range": [1.0, 1.0],
        "source": "IPCC 2019 Refinement, eq. 5.3 and Table 5.14",
    },
    {"name": "GWP100 CH4", "value": 27, "range": None, "source": "IPCC AR6 WG1 Table 7.15"},
]


def season_report(*, viewer: bool = False, extra_charts: int = 0) -> dict[str, Any]:
    """Two communes, four fields: one of each water regime and an upland one, two charted."""
    khanh_thien = [
        field("nguyen/ruong-1", "Khánh Thiện", "continuously_flooded", 0.5, 122, 0, 74.42),
        field("nguyen/ruong-2", "Khánh Thiện", "single_drainage", 0.8, 120, 1, 83.1552),
    ]
    gia_hung = [
        field("tran/ruong-a", "Gia Hưng", "multiple_drainage", 1.2, 118, 3, 95.0136),
        field("tran/vuon-ngo", "Gia Hưng", "no_data", 0.3, 100, 0, None),
    ]
    everything = khanh_thien + gia_hung
    charts = {
        "nguyen/ruong-2": levels(120, [(40, 46)], gap=(1000, 1100)),
        "tran/ruong-a": levels(118, [(25, 30), (50, 55), (75, 80)]),
    }
    for n in range(extra_charts):
        charts[f"extra/ruong-{n}"] = levels(30, [])
    report: dict[str, Any] = {
        "report": "season",
        "season": "2026-spring",
        "from": "2026-01-01",
        "to": "2026-06-30",
        "scope": "province",
        "generated_at": "2026-07-01T08:30:00+07:00",
        "parameters": {
            "drainage_min_days": 3.0,
            "gwp100": 27,
            "gwp_source": "IPCC AR6 WG1 Table 7.15",
            "efc": 1.22,
        },
        "method": METHOD,
        "province": aggregate("Ninh Bình", everything),
        "communes": [aggregate("Khánh Thiện", khanh_thien), aggregate("Gia Hưng", gia_hung)],
        "organisations": [aggregate("HTX Khánh Thiện", everything)],
        "fields": everything,
        "network": [
            {
                "organisation": "HTX Khánh Thiện",
                "nodes": 4,
                "expected_reports": 46080,
                "received_reports": 44700,
                "share_received": 0.97,
                "uptime": 0.98,
            }
        ],
        "charts": charts,
    }
    if viewer:
        del report["fields"]
    return report


@pytest.fixture(scope="module")
def vietnamese() -> bytes:
    return pdf.render(season_report(), "vi")


def test_the_vietnamese_report_reads_with_its_diacritics(vietnamese: bytes, tmp_path: Path) -> None:
    text = extract(vietnamese, tmp_path)
    assert vietnamese.startswith(b"%PDF-")
    assert "Báo cáo vụ Xuân 2026: toàn tỉnh" in text
    assert "Từ 01/01/2026 đến 30/06/2026" in text and "01/07/2026 08:30" in text
    for words in ("Ngập liên tục", "Rút nước một lần", "Rút nước nhiều lần", "Cây trồng cạn"):
        assert words in text
    assert "Khánh Thiện" in text and "Gia Hưng" in text and "tran/vuon-ngo" in text
    # avoided: (117.12 - 83.1552 + 172.752 - 95.0136) kg x 27 / 1000 = 3.0158 t CO2e
    assert "3,02 (khoảng 1,18–5,67)" in text
    assert (
        "Các ruộng tưới ngập khô xen kẽ (2 ruộng) đã giảm ước tính 3,02 tCO2e "
        "(khoảng 1,18–5,67) so với ngập liên tục" in text
    )
    assert "Số đo phủ 96% thời gian của vụ" in text
    assert "Thời gian hoạt động của trạm đo" in text and "98%" in text
    assert "44.700 / 46.080" in text  # thousands with a dot, as Vietnamese writes them


def test_each_sampled_field_has_its_water_level_chart(vietnamese: bytes, tmp_path: Path) -> None:
    text = extract(vietnamese, tmp_path)
    assert "Mực nước ruộng" in text
    assert text.count("Mặt ruộng (0 cm)") == 2 and text.count("Ngưỡng AWD (-15 cm)") == 2
    assert "nguyen/ruong-2 · Khánh Thiện · Rút nước một lần" in text
    assert "tran/ruong-a · Gia Hưng · Rút nước nhiều lần" in text
    assert "01/02" in text and "01/05" in text  # the date axis, dd/mm, local days


def test_charts_stop_at_six_and_say_how_many_were_left_out(tmp_path: Path) -> None:
    text = extract(pdf.render(season_report(extra_charts=5), "vi"), tmp_path)
    assert text.count("Mặt ruộng (0 cm)") == pdf.MAX_CHARTS == 6
    assert "Còn 1 ruộng lấy mẫu không vẽ (tối đa 6 biểu đồ)" in text


def test_the_method_page_names_every_factor_and_its_source(
    vietnamese: bytes, tmp_path: Path
) -> None:
    text = extract(vietnamese, tmp_path, layout=False)
    assert "CH4 = EFc × SFw × SFp × SFo × t × A (IPCC 2019, phương trình 5.1 và 5.2)" in text
    assert "SFo = (1 + Σ ROAᵢ × CFOAᵢ)^0,59 (phương trình 5.3)" in text
    for source in ("Table 5.11", "Table 5.12", "Table 5.13", "Table 5.14", "AR6 WG1 Table 7.15"):
        assert source in text
    assert "0,83–1,81" in text and "0,41–0,72" in text  # EFc's and multiple drainage's ranges
    assert "ít nhất 3 ngày liền" in text and "đợt rút nước cuối vụ trước khi gặt không tính" in text
    assert "Khoảng trống không bao giờ được tính là rút nước" in text


def test_the_fonts_are_embedded(vietnamese: bytes, tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(vietnamese)
    listing = subprocess.run(
        [tool("pdffonts"), str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()[2:]  # a header line and a rule
    assert len(listing) == 2, listing  # regular and bold, nothing else
    for line in listing:
        columns = line.split()
        assert "DejaVuSans" in columns[0]
        assert columns[-5] == "yes" and columns[-3] == "yes", line  # emb, uni


def test_the_english_report_reads_in_english(tmp_path: Path) -> None:
    text = extract(pdf.render(season_report(), "en"), tmp_path)
    assert "Season report spring 2026: the province" in text
    assert "From 1 Jan 2026 to 30 Jun 2026" in text
    assert "Continuously flooded" in text and "Upland crop" in text
    assert "3.02 (range 1.18–5.67)" in text and "44,700 / 46,080" in text
    assert "Soil surface (0 cm)" in text and "Method" in text
    assert "Báo cáo" not in text


def test_an_empty_scope_says_so_and_still_gives_the_method(tmp_path: Path) -> None:
    report = season_report()
    report.update(
        scope="commune:Yên Mô",
        province=aggregate("Yên Mô", []),
        communes=[],
        organisations=[],
        fields=[],
        network=[],
        charts={},
    )
    text = extract(pdf.render(report, "vi"), tmp_path)
    assert "Báo cáo vụ Xuân 2026: xã Yên Mô" in text
    assert "Không có ruộng nào trong phạm vi báo cáo này (xã Yên Mô" in text
    assert "Table 5.11" in text and "Tóm tắt" not in text
    english = extract(pdf.render(report, "en"), tmp_path)
    assert "No field in the scope of this report (commune Yên Mô" in english


def test_a_viewers_report_has_aggregates_and_no_field(tmp_path: Path) -> None:
    text = extract(pdf.render(season_report(viewer=True), "vi"), tmp_path)
    assert "Báo cáo này chỉ gồm số liệu tổng hợp" in text
    assert "Khánh Thiện" in text and "nguyen/ruong-1" not in text


def test_a_missing_font_names_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf, "FONT_DIRS", (tmp_path,))
    monkeypatch.setenv("PATH", str(tmp_path))  # and no fc-match to ask
    with pytest.raises(pdf.FontMissing, match="fonts-dejavu-core"):
        pdf.find_font.__wrapped__()
