"""People and access: organisations own farms; users with roles (memberships, an officer's
communes), sessions, API tokens, login throttling, the audit trail, the farmers' records; a
field gains its commune, owner, location and area.

Farms that exist are moved into one organisation named `default` (a cooperative), which an
admin can rename; nothing else of theirs changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ORGANISATION = "default"


def upgrade() -> None:
    organisations = op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(16), nullable=True, unique=True),
        sa.Column("username", sa.String(32), nullable=True, unique=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("channels", sa.String(128), nullable=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.UniqueConstraint("user_id", "organisation_id", "role"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_index("ix_memberships_organisation_id", "memberships", ["organisation_id"])
    op.create_table(
        "membership_communes",
        sa.Column("membership_id", sa.Integer(), sa.ForeignKey("memberships.id"), primary_key=True),
        sa.Column("commune", sa.String(64), primary_key=True),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_organisation_id", "api_tokens", ["organisation_id"])
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("organisation", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_events_time", "audit_events", ["time"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_table(
        "field_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("field_id", sa.Integer(), sa.ForeignKey("fields.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_mm", sa.Float(), nullable=True),
        sa.Column("product", sa.String(128), nullable=True),
        sa.Column("counts_json", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_field_records_field_id", "field_records", ["field_id"])
    op.create_index("ix_field_records_time", "field_records", ["time"])

    # today's farms go into one organisation, then the column becomes required
    bind = op.get_bind()
    with op.batch_alter_table("farms") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
    farms = sa.table("farms", sa.column("id"), sa.column("organisation_id"))
    if bind.execute(sa.select(sa.func.count()).select_from(farms)).scalar():
        bind.execute(
            organisations.insert().values(
                name=DEFAULT_ORGANISATION, kind="coop", created_at=datetime.now(UTC)
            )
        )
        default_id = bind.execute(
            sa.select(organisations.c.id).where(organisations.c.name == DEFAULT_ORGANISATION)
        ).scalar_one()
        bind.execute(farms.update().values(organisation_id=default_id))
    with op.batch_alter_table("farms") as batch:
        batch.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_farms_organisation_id", "organisations", ["organisation_id"], ["id"]
        )
        batch.create_index("ix_farms_organisation_id", ["organisation_id"])
    with op.batch_alter_table("fields") as batch:
        batch.add_column(sa.Column("commune", sa.String(64), nullable=True))
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("area_m2", sa.Float(), nullable=True))
        batch.create_foreign_key("fk_fields_owner_id", "users", ["owner_id"], ["id"])
        batch.create_index("ix_fields_commune", ["commune"])
        batch.create_index("ix_fields_owner_id", ["owner_id"])


def downgrade() -> None:
    with op.batch_alter_table("fields") as batch:
        batch.drop_index("ix_fields_owner_id")
        batch.drop_index("ix_fields_commune")
        batch.drop_constraint("fk_fields_owner_id", type_="foreignkey")
        for column in ("area_m2", "longitude", "latitude", "owner_id", "commune"):
            batch.drop_column(column)
    with op.batch_alter_table("farms") as batch:
        batch.drop_index("ix_farms_organisation_id")
        batch.drop_constraint("fk_farms_organisation_id", type_="foreignkey")
        batch.drop_column("organisation_id")
    for table in (
        "field_records",
        "audit_events",
        "login_failures",
        "api_tokens",
        "sessions",
        "membership_communes",
        "memberships",
        "users",
        "organisations",
    ):
        op.drop_table(table)
