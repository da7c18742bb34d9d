"""Registry of farms, fields and nodes with their keys (SQLAlchemy; SQLite default, PostgreSQL
in production).

A node's key is the 32-byte HMAC-SHA256 key of its COSE_Mac0 uplinks (docs/protocol.md); the
gateway looks it up by node id (the COSE `kid`). The tables are backend/schema.py; people,
roles and sessions are backend/accounts.py.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Self

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from backend import db
from backend.schema import (
    KEY_BYTES,
    Calibration,
    Farm,
    Field,
    Node,
    NodeConfigRow,
    Organisation,
    Planting,
    utc,
)

NODE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
NAME = re.compile(r"^[\w-]{1,64}$")
TRANSPORTS = ("coap", "mqtt")
VARIETY = re.compile(r"^[\w-]{1,32}$")  # plantings.variety is String(32)
# where a farm goes that is named for the first time by `ruong node provision` (migration 0002
# moved the farms of before into it too); `ruong farm add --org` places a farm explicitly
DEFAULT_ORGANISATION = "default"


class RegistryError(ValueError):
    """A registry request is invalid (unknown field, bad name, duplicate node)."""


@dataclass(frozen=True)
class NodeConfig:
    """A version of a node's remote config: {firmware config key: value}."""

    node: str
    version: int
    settings: dict[str, object]
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


def _config(row: NodeConfigRow) -> NodeConfig:
    return NodeConfig(row.node_id, row.version, json.loads(row.settings_json), utc(row.created_at))


@dataclass(frozen=True)
class SoilCalibration:
    """A soil-probe calibration: counts are ADC counts, vwc in %, sd in counts."""

    node: str
    dry_counts: float
    dry_vwc: float
    wet_counts: float
    wet_vwc: float
    dry_sd: float
    wet_sd: float
    measured_at: datetime

    @property
    def soil_cal(self) -> list[float]:
        """The firmware's `soil_cal`: [dry counts, dry %, wet counts, wet %]."""
        return [self.dry_counts, self.dry_vwc, self.wet_counts, self.wet_vwc]


@dataclass(frozen=True)
class NodeInfo:
    """What the gateway and the tools need to know about a node."""

    node: str
    farm: str
    field: str
    transport: str
    key: bytes
    revoked: bool

    def as_json(self) -> dict[str, str | bool]:
        return {
            "node": self.node,
            "farm": self.farm,
            "field": self.field,
            "transport": self.transport,
            "key": self.key.hex(),
            "revoked": self.revoked,
        }


@dataclass(frozen=True)
class PlantingInfo:
    """A field's current planting (see `Planting`); area in m2; variety: a rice variety's key
    (forecasting/data/rice_varieties.csv) or None; season_days: transplanting to harvest
    (days) or None when unknown."""

    farm: str
    field: str
    crop: str
    planted: date
    soil: str
    area_m2: float
    variety: str | None = None
    season_days: int | None = None

    def as_json(self) -> dict[str, str | float | None]:
        return {**asdict(self), "planted": self.planted.isoformat()}


# the columns a calibration row and a SoilCalibration share, besides the node
_CALIBRATION_FIELDS = (
    "dry_counts",
    "dry_vwc",
    "wet_counts",
    "wet_vwc",
    "dry_sd",
    "wet_sd",
    "measured_at",
)


# a node's field and farm loaded with it (a JOIN), not by two more queries when read
_WITH_FIELD_AND_FARM = joinedload(Node.field).joinedload(Field.farm)


def _info(node: Node) -> NodeInfo:
    return NodeInfo(
        node=node.id,
        farm=node.field.farm.name,
        field=node.field.name,
        transport=node.transport,
        key=bytes.fromhex(node.key_hex),
        revoked=node.revoked_at is not None,
    )


def default_organisation(session: Session) -> Organisation:
    """The organisation a farm named first by `ruong node provision` goes into."""
    org = session.scalar(select(Organisation).where(Organisation.name == DEFAULT_ORGANISATION))
    if org is None:
        org = Organisation(name=DEFAULT_ORGANISATION, kind="coop", created_at=datetime.now(UTC))
        session.add(org)
    return org


class Registry:
    """Farms, fields, nodes and their keys, plantings, calibrations, node config versions.

    url: any SQLAlchemy URL; the database must be at this code's schema, or empty (then it
    is created): backend/db.py, `ruong db upgrade`.
    """

    def __init__(self, url: str) -> None:
        try:
            self.engine = db.open_engine(url)
        except db.SchemaError as exc:
            raise RegistryError(str(exc)) from None

    def provision(self, farm: str, field: str, transport: str) -> NodeInfo:
        """Register a new node on `farm`/`field` (created if new) with a fresh random key."""
        if transport not in TRANSPORTS:
            raise RegistryError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        for what, value in (("farm", farm), ("field", field)):
            if not NAME.match(value):
                raise RegistryError(f"{what} {value!r}: use 1-64 letters, digits, _ or -")
        with Session(self.engine) as session, session.begin():
            farm_row = session.scalar(select(Farm).where(Farm.name == farm))
            if farm_row is None:
                farm_row = Farm(name=farm, organisation=default_organisation(session))
                session.add(farm_row)
            field_row = session.scalar(
                select(Field).where(Field.farm == farm_row, Field.name == field)
            )
            if field_row is None:
                field_row = Field(name=field, farm=farm_row)
                session.add(field_row)
            node = Node(
                id="n" + secrets.token_hex(4),
                field=field_row,
                transport=transport,
                key_hex=secrets.token_bytes(KEY_BYTES).hex(),
                created_at=datetime.now(UTC),
            )
            session.add(node)
            session.flush()
            return _info(node)

    def add_farm(self, name: str, organisation: str) -> None:
        """A new farm of `organisation` (which must exist)."""
        if not NAME.match(name):
            raise RegistryError(f"farm {name!r}: use 1-64 letters, digits, _ or -")
        with Session(self.engine) as session, session.begin():
            org = session.scalar(select(Organisation).where(Organisation.name == organisation))
            if org is None:
                raise RegistryError(f"unknown organisation {organisation!r}")
            if session.scalar(select(Farm).where(Farm.name == name)) is not None:
                raise RegistryError(f"farm {name!r} exists already")
            session.add(Farm(name=name, organisation=org))

    def move_farm(self, name: str, organisation: str) -> None:
        """Put farm `name` (created if new) into `organisation` (which must exist)."""
        with Session(self.engine) as session, session.begin():
            org = session.scalar(select(Organisation).where(Organisation.name == organisation))
            if org is None:
                raise RegistryError(f"unknown organisation {organisation!r}")
            farm = session.scalar(select(Farm).where(Farm.name == name))
            if farm is None:
                session.add(Farm(name=name, organisation=org))
            else:
                farm.organisation = org

    def add_field(
        self,
        farm: str,
        field: str,
        commune: str,
        owner_id: int | None,
        latitude: float | None = None,
        longitude: float | None = None,
        area_m2: float | None = None,
    ) -> int:
        """Create `farm`/`field`, or complete one a node was provisioned on, with its commune,
        owner (a user id), location (decimal degrees, WGS 84) and area (m2); its id."""
        if not NAME.match(field):
            raise RegistryError(f"field {field!r}: use 1-64 letters, digits, _ or -")
        if not commune.strip():
            raise RegistryError("a field needs its commune (--commune)")
        if (latitude is None) != (longitude is None):
            raise RegistryError("give both --lat and --lon, or neither")
        if (
            latitude is not None
            and longitude is not None
            and not (-90 <= latitude <= 90 and -180 <= longitude <= 180)
        ):
            raise RegistryError(f"--lat {latitude} --lon {longitude} is not a place on Earth")
        if area_m2 is not None and not area_m2 > 0:
            raise RegistryError(f"area must be a positive number of m2, got {area_m2}")
        with Session(self.engine) as session, session.begin():
            farm_row = session.scalar(select(Farm).where(Farm.name == farm))
            if farm_row is None:
                raise RegistryError(f"unknown farm {farm!r}: ruong farm add {farm} --org ORG")
            row = session.scalar(select(Field).where(Field.farm == farm_row, Field.name == field))
            if row is None:
                row = Field(name=field, farm=farm_row)
                session.add(row)
            row.commune, row.owner_id = commune.strip(), owner_id
            row.latitude, row.longitude, row.area_m2 = latitude, longitude, area_m2
            session.flush()
            return row.id

    def node(self, node_id: str) -> NodeInfo | None:
        """One node with its field and farm, in one query (the gateway's key lookup)."""
        with Session(self.engine) as session:
            row = session.get(Node, node_id, options=[_WITH_FIELD_AND_FARM])
            return _info(row) if row is not None else None

    def nodes(self, farm: str | None = None) -> list[NodeInfo]:
        """Every node (of `farm`), oldest first, with fields and farms in the same query."""
        with Session(self.engine) as session:
            query = (
                select(Node)
                .join(Field)
                .join(Farm)
                .options(_WITH_FIELD_AND_FARM)
                .order_by(Node.created_at, Node.id)
            )
            if farm is not None:
                query = query.where(Farm.name == farm)
            return [_info(n) for n in session.scalars(query)]

    def revoke(self, node_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(Node, node_id)
            if row is None:
                raise RegistryError(f"unknown node {node_id!r}")
            row.revoked_at = datetime.now(UTC)

    def plant(
        self,
        farm: str,
        field: str,
        crop: str,
        planted: date,
        soil: str,
        area_m2: float,
        variety: str | None = None,
        season_days: int | None = None,
    ) -> PlantingInfo:
        """Record what grows on `farm`/`field` (which must have a node), replacing the last.

        The caller checks `crop`, `soil` and `variety` (None: none) against the forecasting
        library; the registry checks names, the area (m2, > 0), the season's length
        (`season_days`, transplanting to harvest in days, > 0; None: unknown) and that the
        field exists.
        """
        if not area_m2 > 0:
            raise RegistryError(f"area must be a positive number of m2, got {area_m2}")
        for what, value in (("crop", crop), ("soil", soil)):
            if not NAME.match(value):
                raise RegistryError(f"{what} {value!r}: use 1-64 letters, digits, _ or -")
        if variety is not None and not VARIETY.match(variety):
            raise RegistryError(f"variety {variety!r}: use 1-32 letters, digits, _ or -")
        if season_days is not None and not season_days > 0:
            raise RegistryError(f"season_days must be a positive number of days: {season_days}")
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(Field).join(Farm).where(Farm.name == farm, Field.name == field)
            )
            if row is None:
                raise RegistryError(f"unknown field {farm}/{field}: provision a node on it first")
            if row.planting is None:
                session.add(
                    Planting(
                        field=row,
                        crop=crop,
                        planted=planted,
                        soil=soil,
                        area_m2=area_m2,
                        variety=variety,
                        season_days=season_days,
                    )
                )
            else:
                row.planting.crop, row.planting.planted = crop, planted
                row.planting.soil, row.planting.area_m2 = soil, area_m2
                row.planting.variety, row.planting.season_days = variety, season_days
            return PlantingInfo(farm, field, crop, planted, soil, area_m2, variety, season_days)

    def plantings(self, farm: str | None = None) -> list[PlantingInfo]:
        """Every field's current planting, by farm and field name."""
        with Session(self.engine) as session:
            query = (
                select(Planting, Field.name, Farm.name)
                .join(Field, Planting.field_id == Field.id)
                .join(Farm)
                .order_by(Farm.name, Field.name)
            )
            if farm is not None:
                query = query.where(Farm.name == farm)
            return [
                PlantingInfo(
                    farm_name,
                    field_name,
                    p.crop,
                    p.planted,
                    p.soil,
                    p.area_m2,
                    p.variety,
                    p.season_days,
                )
                for p, field_name, farm_name in session.execute(query)
            ]

    def save_calibration(self, cal: SoilCalibration) -> None:
        """Record a soil-probe calibration of an existing node (history is kept)."""
        with Session(self.engine) as session, session.begin():
            if session.get(Node, cal.node) is None:
                raise RegistryError(f"unknown node {cal.node!r}")
            session.add(
                Calibration(node_id=cal.node, **{f: getattr(cal, f) for f in _CALIBRATION_FIELDS})
            )

    def calibration(self, node_id: str) -> SoilCalibration | None:
        """The node's newest soil-probe calibration, None when it was never calibrated."""
        with Session(self.engine) as session:
            row = session.scalar(
                select(Calibration)
                .where(Calibration.node_id == node_id)
                .order_by(Calibration.measured_at.desc(), Calibration.id.desc())
                .limit(1)
            )
            if row is None:
                return None
            values = {f: getattr(row, f) for f in _CALIBRATION_FIELDS}
            values["measured_at"] = utc(row.measured_at)  # naive from SQLite, stored as UTC
            return SoilCalibration(node=row.node_id, **values)

    def set_config(self, node_id: str, settings: dict[str, object]) -> NodeConfig:
        """Make `settings` the node's newest remote config, as the next version; the current
        version when it already has exactly these settings. Validating them is the caller's
        (ruong/node_config.py)."""
        with Session(self.engine) as session, session.begin():
            node = session.get(Node, node_id)
            if node is None:
                raise RegistryError(f"unknown node {node_id!r}")
            if node.revoked_at is not None:
                raise RegistryError(f"node {node_id!r} is revoked")
            newest = self._newest_config(session, node_id)
            if newest is not None and json.loads(newest.settings_json) == settings:
                return _config(newest)
            row = NodeConfigRow(
                node_id=node_id,
                version=1 if newest is None else newest.version + 1,
                settings_json=json.dumps(settings, sort_keys=True),
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return _config(row)

    @staticmethod
    def _newest_config(session: Session, node_id: str) -> NodeConfigRow | None:
        return session.scalar(
            select(NodeConfigRow)
            .where(NodeConfigRow.node_id == node_id)
            .order_by(NodeConfigRow.version.desc())
            .limit(1)
        )

    def config(self, node_id: str) -> NodeConfig | None:
        """The node's newest remote config; None when it never had one."""
        with Session(self.engine) as session:
            row = self._newest_config(session, node_id)
            return None if row is None else _config(row)

    def configs(self) -> list[NodeConfig]:
        """The newest remote config of every node that has one (one query)."""
        newest = (
            select(NodeConfigRow.node_id, func.max(NodeConfigRow.version).label("version"))
            .group_by(NodeConfigRow.node_id)
            .subquery()
        )
        query = select(NodeConfigRow).join(
            newest,
            (NodeConfigRow.node_id == newest.c.node_id)
            & (NodeConfigRow.version == newest.c.version),
        )
        with Session(self.engine) as session:
            return [_config(row) for row in session.scalars(query)]

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
