"""The registry as it was before migrations: farms, fields, plantings, nodes with their
keys, calibrations, node config versions (what `create_all` made until then).

A registry made then has these tables and no `alembic_version`; `ruong db upgrade` stamps it
with this revision and goes on from here (backend/db.py).

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "farms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "fields",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("farm_id", sa.Integer(), sa.ForeignKey("farms.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.UniqueConstraint("farm_id", "name"),
    )
    op.create_table(
        "plantings",
        sa.Column("field_id", sa.Integer(), sa.ForeignKey("fields.id"), primary_key=True),
        sa.Column("crop", sa.String(32), nullable=False),
        sa.Column("planted", sa.Date(), nullable=False),
        sa.Column("soil", sa.String(32), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("field_id", sa.Integer(), sa.ForeignKey("fields.id"), nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("key_hex", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "calibrations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(32), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("dry_counts", sa.Float(), nullable=False),
        sa.Column("dry_vwc", sa.Float(), nullable=False),
        sa.Column("wet_counts", sa.Float(), nullable=False),
        sa.Column("wet_vwc", sa.Float(), nullable=False),
        sa.Column("dry_sd", sa.Float(), nullable=False),
        sa.Column("wet_sd", sa.Float(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_calibrations_node_id", "calibrations", ["node_id"])
    op.create_table(
        "node_configs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(32), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("node_id", "version"),
    )
    op.create_index("ix_node_configs_node_id", "node_configs", ["node_id"])


def downgrade() -> None:
    for table in ("node_configs", "calibrations", "nodes", "plantings", "fields", "farms"):
        op.drop_table(table)
