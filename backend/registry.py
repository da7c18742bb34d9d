"""Registry of farms, fields and nodes with their keys (SQLAlchemy; SQLite default, PostgreSQL
in production).

A node's key is the 32-byte HMAC-SHA256 key of its COSE_Mac0 uplinks (docs/protocol.md); the
gateway looks it up by node id (the COSE `kid`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

NODE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
NAME = re.compile(r"^[\w-]{1,64}$")
TRANSPORTS = ("coap", "mqtt")
KEY_BYTES = 32


class RegistryError(ValueError):
    """A registry request is invalid (unknown field, bad name, duplicate node)."""


class Base(DeclarativeBase):
    pass


class Farm(Base):
    __tablename__ = "farms"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    fields: Mapped[list[Field]] = relationship(back_populates="farm")


class Field(Base):
    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("farm_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id"))
    name: Mapped[str] = mapped_column(String(64))
    farm: Mapped[Farm] = relationship(back_populates="fields")
    nodes: Mapped[list[Node]] = relationship(back_populates="field")


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    transport: Mapped[str] = mapped_column(String(8))
    key_hex: Mapped[str] = mapped_column(String(2 * KEY_BYTES))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    field: Mapped[Field] = relationship(back_populates="nodes")


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


def _info(node: Node) -> NodeInfo:
    return NodeInfo(
        node=node.id,
        farm=node.field.farm.name,
        field=node.field.name,
        transport=node.transport,
        key=bytes.fromhex(node.key_hex),
        revoked=node.revoked_at is not None,
    )


class Registry:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url)
        Base.metadata.create_all(self.engine)

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
                farm_row = Farm(name=farm)
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

    def node(self, node_id: str) -> NodeInfo | None:
        with Session(self.engine) as session:
            row = session.get(Node, node_id)
            return _info(row) if row is not None else None

    def nodes(self, farm: str | None = None) -> list[NodeInfo]:
        with Session(self.engine) as session:
            query = select(Node).join(Field).join(Farm).order_by(Node.created_at, Node.id)
            if farm is not None:
                query = query.where(Farm.name == farm)
            return [_info(n) for n in session.scalars(query)]

    def revoke(self, node_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(Node, node_id)
            if row is None:
                raise RegistryError(f"unknown node {node_id!r}")
            row.revoked_at = datetime.now(UTC)

    def close(self) -> None:
        self.engine.dispose()
