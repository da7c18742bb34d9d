"""The registry's tables (SQLAlchemy declarative models; SQLite by default, PostgreSQL in
production), whose history is the Alembic migrations in backend/migrations/ (docs/
architecture.md, "Registry").

Who owns what (issue "People and access"): an organisation (a cooperative, a company, a
province department) owns farms, and through them fields and nodes; a field has a commune, an
owner (a farmer), a location and an area; a person holds roles in one or more organisations
(memberships), an officer's membership names the communes it covers. Since 2025 Vietnam's
levels are province -> commune, so a commune is the only place below the province.

Times are stored timezone-aware in UTC (SQLite hands them back naive: `utc()`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

KEY_BYTES = 32
ORG_KINDS = ("coop", "company", "province")
ROLES = ("farmer", "officer", "technician", "admin", "viewer")
RECORD_KINDS = ("irrigation", "drainage", "spraying", "scouting")


def utc(moment: datetime) -> datetime:
    """SQLite hands timezone-aware columns back naive; they were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # ORG_KINDS
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    farms: Mapped[list[Farm]] = relationship(back_populates="organisation")


class Farm(Base):
    __tablename__ = "farms"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    organisation: Mapped[Organisation] = relationship(back_populates="farms")
    fields: Mapped[list[Field]] = relationship(back_populates="farm")


class Field(Base):
    """A field: its commune (what an officer's scope covers), its owner (the farmer who sees
    it), its location (decimal degrees, WGS 84: the officer's map) and area (m2)."""

    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("farm_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id"))
    name: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    area_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    farm: Mapped[Farm] = relationship(back_populates="fields")
    owner: Mapped[User | None] = relationship()
    nodes: Mapped[list[Node]] = relationship(back_populates="field")
    planting: Mapped[Planting | None] = relationship(back_populates="field")


class Planting(Base):
    """What grows on a field this season: the forecasts' inputs (crop, soil, date, area, and
    for rice the variety) and the season's length, which dates the harvest."""

    __tablename__ = "plantings"
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"), primary_key=True)
    crop: Mapped[str] = mapped_column(String(32))  # key in forecasting/data/crops.csv
    planted: Mapped[date] = mapped_column(Date)  # sowing or transplanting day
    soil: Mapped[str] = mapped_column(String(32))  # texture in forecasting/data/soils.csv
    area_m2: Mapped[float] = mapped_column(Float)
    # key in forecasting/data/rice_varieties.csv (migration 0004); None: the crop's FAO-56 rows
    variety: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # transplanting to harvest (days; the crop's season, variety-scaled; migration 0004);
    # None: unknown, the season report then counts to its own end (no harvest date)
    season_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    field: Mapped[Field] = relationship(back_populates="planting")


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    transport: Mapped[str] = mapped_column(String(8))
    key_hex: Mapped[str] = mapped_column(String(2 * KEY_BYTES))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    field: Mapped[Field] = relationship(back_populates="nodes")


class Calibration(Base):
    """A node's soil-probe two-point calibration as `ruong node calibrate` measured it (one
    row per calibration, kept as history); the newest goes into the node's config file.

    Counts are the probe's raw ADC readings (median of the samples), VWC in %, spreads the
    samples' standard deviation in counts.
    """

    __tablename__ = "calibrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"), index=True)
    dry_counts: Mapped[float] = mapped_column(Float)
    dry_vwc: Mapped[float] = mapped_column(Float)
    wet_counts: Mapped[float] = mapped_column(Float)
    wet_vwc: Mapped[float] = mapped_column(Float)
    dry_sd: Mapped[float] = mapped_column(Float)
    wet_sd: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NodeConfigRow(Base):
    """One version of a node's remote config (docs/protocol.md "Config downlink"): the settings
    the gateway signs and sends, as JSON. Versions count up from 1 per node; all are kept."""

    __tablename__ = "node_configs"
    __table_args__ = (UniqueConstraint("node_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"), index=True)
    version: Mapped[int]
    settings_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A person who logs in: by phone number (E.164, +84...) or username; the password only
    as an Argon2id hash (backend/accounts.py)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    username: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    channels: Mapped[str | None] = mapped_column(String(128), nullable=True)  # "zalo,sms"
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A role a person holds in an organisation; an officer's lists its communes."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # ROLES
    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()
    communes: Mapped[list[MembershipCommune]] = relationship(
        back_populates="membership", cascade="all, delete-orphan"
    )


class MembershipCommune(Base):
    __tablename__ = "membership_communes"
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), primary_key=True)
    commune: Mapped[str] = mapped_column(String(64), primary_key=True)
    membership: Mapped[Membership] = relationship(back_populates="communes")


class SessionRow(Base):
    """A login session: only the SHA-256 of its token is stored."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiToken(Base):
    """A machine's token, scoped to one role in one organisation; stored as its SHA-256."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    organisation: Mapped[Organisation] = relationship()


class LoginFailures(Base):
    """Consecutive failed logins of one key (`account:<login>`, `client:<address>`)."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """A security event (login, token, role, node changes; rejected uplinks per node per
    hour) for the province's monitoring centre; also forwarded as syslog (backend/audit.py)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    organisation: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class FieldRecord(Base):
    """What a farmer or officer recorded doing on a field: irrigation (mm), drainage,
    spraying (product), scouting (counts per pest, JSON)."""

    __tablename__ = "field_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # RECORD_KINDS
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    amount_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    product: Mapped[str | None] = mapped_column(String(128), nullable=True)
    counts_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertRow(Base):
    """One alert: a rule about one subject (a field, a node, the gateway), its lifecycle
    state (backend/alerts/lifecycle.py, as JSON) and the columns alerts are found by."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending/firing/resolved/expired
    level: Mapped[int] = mapped_column(Integer)
    episode: Mapped[str] = mapped_column(String(64))  # the current episode's id
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"), nullable=True)
    node_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    commune: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True
    )
    message_json: Mapped[str] = mapped_column(Text)
    state_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AlertEventRow(Base):
    """A transition of an alert (firing, repeat, level_up, resolved, expired) or an
    acknowledgement: the history the season report counts ("alerts acted on")."""

    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    episode: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    level: Mapped[int] = mapped_column(Integer)
    message_json: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxRow(Base):
    """One message to one person (alert transition x recipient), written in the same
    transaction as the transition: at-least-once to the provider, exactly-once to the person
    by its idempotency key (backend/alerts/outbox.py)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("alert_events.id"), nullable=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channels: Mapped[str] = mapped_column(String(128))  # the ones left to try, in order
    message_json: Mapped[str] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending/claimed/delivered/failed
    send_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the one that answered
    provider_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ThresholdRow(Base):
    """A reading threshold an officer or farmer set on a field: alert when `quantity` goes
    below or above `value` (SenML units, docs/vocabulary.md)."""

    __tablename__ = "thresholds"
    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"), index=True)
    quantity: Mapped[str] = mapped_column(String(32))
    below: Mapped[bool] = mapped_column()
    value: Mapped[float] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
