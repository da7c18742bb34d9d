"""The bills of materials parse, add up, and hold the parts each node needs."""

from __future__ import annotations

import re

import pytest

from hardware import bom
from hardware.bom import NODES, VND_PER_USD, BomError, load_bom, parse_bom, total_vnd


@pytest.mark.parametrize("node", NODES)
def test_bom_parses_and_totals_are_positive(node: str) -> None:
    lines = load_bom(node)
    assert len(lines) > 20
    total = total_vnd(lines)
    assert total == sum(line.quantity * line.unit_vnd for line in lines) > 0
    # a solar ESP32 node with these sensors: somewhere between ~1 and ~5 million VND
    assert 1_000_000 < total < 5_000_000


@pytest.mark.parametrize("node", NODES)
def test_alternatives_are_marked_and_left_out(node: str) -> None:
    for line in load_bom(node):
        if line.quantity == 0:
            assert "not in the total" in line.note, line.part


def test_each_node_has_its_own_sensors() -> None:
    paddy = " ".join(line.function for line in load_bom("paddy") if line.quantity)
    upland = " ".join(line.function for line in load_bom("upland") if line.quantity)
    assert "AWD" in paddy and "water level" in paddy and "soil volumetric" not in paddy
    assert "soil volumetric water content" in upland and "AWD" not in upland
    for both in ("rainfall", "leaf wetness", "energy harvest", "enclosure", "earthing"):
        assert both in paddy and both in upland


def test_usd_must_follow_the_stated_rate() -> None:
    header = "part,function,quantity,unit_vnd,unit_usd,note\n"
    assert parse_bom(header + "x,y,1,25400,1.00,\n")[0].unit_usd == 1.0
    with pytest.raises(BomError, match=str(VND_PER_USD)):
        parse_bom(header + "x,y,1,25400,2.00,\n")
    with pytest.raises(BomError):
        parse_bom(header + "x,y,one,25400,1.00,\n")


def test_readme_totals_are_current() -> None:
    text = (bom.HERE / "README.md").read_text(encoding="utf-8")
    for node in NODES:
        match = re.search(rf"\| {node} \| ([\d,]+) VND", text)
        assert match, f"README has no total for {node}"
        assert int(match.group(1).replace(",", "")) == total_vnd(load_bom(node))
