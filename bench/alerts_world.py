"""The registry and store bench.alerts evaluates: one organisation, a few hundred farmers,
`n` fields over communes (one farm per commune), a node with a recent reading on every tenth
field, and one irrigation forecast per field (a share of them "irrigate today", level 3).

Users go into `users` directly with one Argon2id hash reused: `Accounts.add_user` hashes each
password (~50 ms), which would make the setup, not the evaluation, the slow part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.accounts import Accounts
from backend.i18n import Message
from backend.registry import Registry
from backend.schema import Farm, Field, Membership, Node, User
from backend.store import Point, Store
from forecasting.advice import Advice
from ruong.forecast_job import advice_point

ORG = "HTX Bench"
COMMUNES = 20
NODE_EVERY = 10  # one field in ten has a node


@dataclass(frozen=True)
class World:
    farmer_ids: list[int]
    fields: int
    irrigate: int  # fields whose forecast says irrigate today
    nodes: int


def _advice(today: bool) -> Advice:
    if today:
        amount = Message("irrigation.amount", {"mm": 25, "m3": 37.5})
        text = Message("irrigation.today", {"amount": amount})
        return Advice("irrigation", "fao56-ch8", 3, text, {"days_ahead": 0, "gross_mm": 25.0})
    text = Message("irrigation.none", {"days": 3})
    return Advice("irrigation", "fao56-ch8", 0, text, {"days_ahead": 9, "gross_mm": 0.0})


def build(
    registry: Registry,
    store: Store,
    fields: int,
    farmers: int,
    share: float,
    at: datetime,
    readings_at: datetime,
) -> World:
    """Fill `registry` and `store`; forecasts are stamped `at`, readings `readings_at`."""
    org_id = Accounts(registry.engine).add_organisation(ORG, "coop")
    password_hash = PasswordHasher().hash("bench-password-2026")
    now = datetime.now(UTC)
    with Session(registry.engine) as session, session.begin():
        session.execute(
            insert(User),
            [
                {
                    "phone": f"+8491{i:07d}",
                    "name": f"Nông dân {i}",
                    "channels": "webhook",
                    "password_hash": password_hash,
                    "created_at": now,
                    "password_changed_at": now,
                }
                for i in range(farmers)
            ],
        )
        ids = list(session.scalars(select(User.id).order_by(User.id)))
        session.execute(
            insert(Membership),
            [{"user_id": u, "organisation_id": org_id, "role": "farmer"} for u in ids],
        )
        session.execute(
            insert(Farm), [{"name": f"xa-{c:02d}", "organisation_id": org_id} for c in range(20)]
        )
        farm_ids = list(session.scalars(select(Farm.id).order_by(Farm.id)))
        session.execute(
            insert(Field),
            [
                {
                    "farm_id": farm_ids[i % COMMUNES],
                    "name": f"ruong-{i:05d}",
                    "commune": f"Xã {i % COMMUNES:02d}",
                    "owner_id": ids[i % farmers],
                    "area_m2": 1500.0,
                }
                for i in range(fields)
            ],
        )
        field_ids = list(session.scalars(select(Field.id).order_by(Field.id)))
        session.execute(
            insert(Node),
            [
                {
                    "id": f"n{i:05d}",
                    "field_id": field_ids[i],
                    "transport": "coap",
                    "key_hex": "00" * 32,
                    "created_at": now,
                }
                for i in range(0, fields, NODE_EVERY)
            ],
        )
    at_ms = int(at.timestamp() * 1000)
    today, other = _advice(True), _advice(False)
    every = max(1, round(1 / share)) if share > 0 else fields + 1
    points = [
        advice_point(
            f"xa-{i % COMMUNES:02d}", f"ruong-{i:05d}", today if i % every == 0 else other, at_ms
        )
        for i in range(fields)
    ]
    points += [
        Point(
            "readings",
            {"farm": f"xa-{i % COMMUNES:02d}", "field": f"ruong-{i:05d}", "node": f"n{i:05d}"},
            {"soil_vwc": 22.0, "battery_v": 3.9},
            int(readings_at.timestamp() * 1000),
        )
        for i in range(0, fields, NODE_EVERY)
    ]
    for start in range(0, len(points), 2000):
        store.write(points[start : start + 2000])
    irrigate = sum(1 for p in points if p.measurement == "forecasts" and p.fields["level"] == 3)
    return World(ids, fields, irrigate, len(range(0, fields, NODE_EVERY)))
