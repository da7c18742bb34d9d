"""Who may see what: the scope of a :class:`backend.identity.Principal` over fields and nodes,
decided on the server for every API endpoint and every Dash callback that returns data.

| role | fields | nodes | personal data |
| --- | --- | --- | --- |
| farmer | those they own | of their fields | their own |
| officer | every field in the communes of their officer roles, across organisations | - | the owners of those fields |
| technician | the fields of their organisation's farms (names, places) | of their organisation | none |
| admin | the fields of their organisation's farms | of their organisation | their organisation's |
| viewer | none (aggregated reports only) | - | none |

A resource outside the caller's scope is "not found" (None here, 404 in the API), never
"forbidden": the answer must not tell that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Engine, false, or_, select
from sqlalchemy.orm import Session, joinedload

from backend.identity import Principal
from backend.schema import Farm, Field, Node, User

FIELD_ROLES = ("farmer", "officer", "technician", "admin")
NODE_ROLES = ("technician", "admin")
# the largest id a row can have: an Integer primary key is 32 bits on PostgreSQL (64 on
# SQLite); a larger one names no field, and the drivers refuse to bind it (an OverflowError)
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class FieldInfo:
    """A field as the API shows it; `owner` is None where the caller may not see it."""

    id: int
    farm: str
    organisation: str
    name: str
    commune: str | None
    latitude: float | None
    longitude: float | None
    area_m2: float | None
    crop: str | None
    planted: date | None
    owner: dict[str, str | None] | None
    owned: bool = False  # the caller owns it (their "Hôm nay"); not in the API's answer

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "farm": self.farm,
            "organisation": self.organisation,
            "name": self.name,
            "commune": self.commune,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "area_m2": self.area_m2,
            "crop": self.crop,
            "planted": self.planted.isoformat() if self.planted else None,
            "owner": self.owner,
        }


def field_filter(principal: Principal) -> ColumnElement[bool]:
    """The SQL condition on `Field` (joined with `Farm`) of the fields `principal` may see."""
    conditions: list[ColumnElement[bool]] = []
    if principal.has("farmer") and principal.user_id is not None:
        conditions.append(Field.owner_id == principal.user_id)
    communes = principal.communes()
    if communes:
        conditions.append(Field.commune.in_(sorted(communes)))
    orgs = principal.organisations("technician", "admin")
    if orgs:
        conditions.append(Farm.organisation_id.in_(sorted(orgs)))
    return or_(*conditions) if conditions else false()


def _sees_owner(principal: Principal, field: Field) -> bool:
    """Personal data (the owner's phone and name) is for the owner, the field's officers
    and its organisation's admins; never for technicians or viewers."""
    if principal.user_id is not None and field.owner_id == principal.user_id:
        return True
    if field.commune is not None and field.commune in principal.communes():
        return True
    return field.farm.organisation_id in principal.organisations("admin")


def _info(principal: Principal, field: Field) -> FieldInfo:
    owner: User | None = field.owner
    shown = None
    if owner is not None and _sees_owner(principal, field):
        shown = {"login": owner.phone or owner.username, "name": owner.name}
    planting = field.planting
    return FieldInfo(
        id=field.id,
        farm=field.farm.name,
        organisation=field.farm.organisation.name,
        name=field.name,
        commune=field.commune,
        latitude=field.latitude,
        longitude=field.longitude,
        area_m2=field.area_m2,
        crop=planting.crop if planting else None,
        planted=planting.planted if planting else None,
        owner=shown,
        owned=principal.user_id is not None and field.owner_id == principal.user_id,
    )


_FIELD_LOADS = (
    joinedload(Field.farm).joinedload(Farm.organisation),
    joinedload(Field.owner),
    joinedload(Field.planting),
)


class Scope:
    """The registry seen through a principal's scope (`engine`: backend/db.py)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def fields(self, principal: Principal, commune: str | None = None) -> list[FieldInfo]:
        """The fields `principal` may see (in `commune`), by commune, farm and name."""
        query = (
            select(Field)
            .join(Farm)
            .where(field_filter(principal))
            .options(*_FIELD_LOADS)
            .order_by(Field.commune, Farm.name, Field.name)
        )
        if commune is not None:
            query = query.where(Field.commune == commune)
        with Session(self.engine) as session:
            return [_info(principal, f) for f in session.scalars(query).unique()]

    def field(self, principal: Principal, field_id: int) -> FieldInfo | None:
        """One field, or None when it does not exist or is outside the scope (both 404)."""
        if not 0 < field_id <= MAX_ID:
            return None
        query = (
            select(Field)
            .join(Farm)
            .where(Field.id == field_id, field_filter(principal))
            .options(*_FIELD_LOADS)
        )
        with Session(self.engine) as session:
            row = session.scalars(query).unique().one_or_none()
            return None if row is None else _info(principal, row)

    def nodes(self, principal: Principal) -> list[dict[str, object]]:
        """The nodes of the principal's organisations (technician, admin): id, field, farm,
        transport, state; never a key."""
        orgs = principal.organisations(*NODE_ROLES)
        if not orgs:
            return []
        query = (
            select(Node, Field, Farm)
            .join(Field, Node.field_id == Field.id)
            .join(Farm)
            .where(Farm.organisation_id.in_(sorted(orgs)))
            .order_by(Farm.name, Field.name, Node.id)
        )
        with Session(self.engine) as session:
            return [
                {
                    "node": node.id,
                    "field_id": field.id,
                    "field": field.name,
                    "farm": farm.name,
                    "transport": node.transport,
                    "revoked": node.revoked_at is not None,
                }
                for node, field, farm in session.execute(query)
            ]

    def may_record(self, principal: Principal, field: FieldInfo, kind: str) -> bool:
        """Farmers record anything on their own fields, officers scouting on theirs, admins
        anything in their organisation; technicians and viewers nothing."""
        if principal.has("admin") and field.organisation in {
            g.organisation for g in principal.grants if g.role == "admin"
        }:
            return True
        if kind == "scouting" and field.commune in principal.communes():
            return True
        with Session(self.engine) as session:
            owner = session.scalar(select(Field.owner_id).where(Field.id == field.id))
        return principal.has("farmer") and owner is not None and owner == principal.user_id
