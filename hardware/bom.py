"""Bills of materials: hardware/bom_<node>.csv -> lines and per-node totals.

    python -m hardware.bom            # totals of every node, VND and USD

Prices are ROUGH unit prices on the 2026 Vietnamese online retail market (Shopee, Lazada,
Hshop.vn-style electronics shops), single-unit retail, VAT included, shipping excluded; they
move by 20-50 % between sellers and over months. USD = VND / VND_PER_USD. Lines with
quantity 0 are alternatives or options, listed for their price and left out of the total.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODES = ("paddy", "upland")
VND_PER_USD = 25_400  # exchange rate used for the unit_usd column (rough, 2026)
_COLUMNS = ("part", "function", "quantity", "unit_vnd", "unit_usd", "note")


class BomError(ValueError):
    """A BOM file that cannot be read or whose columns disagree."""


@dataclass(frozen=True)
class BomLine:
    part: str
    function: str
    quantity: int
    unit_vnd: int  # VND per unit
    unit_usd: float  # USD per unit at VND_PER_USD
    note: str

    @property
    def total_vnd(self) -> int:
        return self.quantity * self.unit_vnd


def parse_bom(text: str, source: str = "<csv>") -> list[BomLine]:
    """The CSV text -> lines; BomError on a bad header, number, or USD/VND mismatch."""
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise BomError(f"{source}: header must be {','.join(_COLUMNS)}")
    lines = []
    for number, row in enumerate(reader, start=2):
        try:
            line = BomLine(
                part=row["part"].strip(),
                function=row["function"].strip(),
                quantity=int(row["quantity"]),
                unit_vnd=int(row["unit_vnd"]),
                unit_usd=float(row["unit_usd"]),
                note=row["note"].strip(),
            )
        except (TypeError, ValueError) as exc:
            raise BomError(f"{source}:{number}: {exc}") from exc
        if not line.part or line.quantity < 0 or line.unit_vnd <= 0:
            raise BomError(f"{source}:{number}: needs a part, quantity >= 0 and a price > 0")
        if abs(line.unit_usd - line.unit_vnd / VND_PER_USD) > 0.006:
            raise BomError(f"{source}:{number}: unit_usd is not unit_vnd / {VND_PER_USD}")
        lines.append(line)
    return lines


def load_bom(node: str) -> list[BomLine]:
    """The BOM of `node` ("paddy" or "upland")."""
    if node not in NODES:
        raise BomError(f"unknown node {node!r} (known: {', '.join(NODES)})")
    path = HERE / f"bom_{node}.csv"
    return parse_bom(path.read_text(encoding="utf-8"), str(path))


def total_vnd(lines: list[BomLine]) -> int:
    """Cost of one node (VND): quantity x unit price, alternatives (quantity 0) excluded."""
    return sum(line.total_vnd for line in lines)


def main(argv: list[str] | None = None) -> int:
    """Print each node's total; exit 0, or 2 on a broken BOM file."""
    del argv  # no options
    try:
        for node in NODES:
            vnd = total_vnd(load_bom(node))
            print(f"{node:7s} {vnd:>12,} VND  ~{vnd / VND_PER_USD:,.0f} USD")
    except BomError as exc:
        print(f"bom: {exc}", file=sys.stderr)
        return 2
    print(f"(rough 2026 retail prices, 1 USD = {VND_PER_USD:,} VND)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
