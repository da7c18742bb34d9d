"""Alerts: each alert's state (its lifecycle as JSON, and the columns it is found by), its
transitions and acknowledgements, the durable outbox of messages, per-field thresholds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _times(*names: str, nullable: bool = True) -> list[sa.Column]:
    return [sa.Column(n, sa.DateTime(timezone=True), nullable=nullable) for n in names]


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("episode", sa.String(64), nullable=False),
        sa.Column("field_id", sa.Integer(), sa.ForeignKey("fields.id"), nullable=True),
        sa.Column("node_id", sa.String(32), nullable=True),
        sa.Column("commune", sa.String(64), nullable=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id")),
        sa.Column("message_json", sa.Text(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        *_times("updated_at", nullable=False),
        *_times("acked_at"),
        sa.Column("acked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
    )
    for column in ("commune", "rule_id", "state"):
        op.create_index(f"ix_alerts_{column}", "alerts", [column])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("episode", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        *_times("at", nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("message_json", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])
    op.create_index("ix_alert_events_at", "alert_events", ["at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("alert_events.id"), nullable=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("channels", sa.String(128), nullable=False),
        sa.Column("message_json", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_times("send_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        *_times("claimed_at"),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("provider_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        *_times("created_at", nullable=False),
        *_times("delivered_at"),
    )
    for column in ("person_id", "send_at", "status"):
        op.create_index(f"ix_outbox_{column}", "outbox", [column])
    op.create_table(
        "thresholds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("field_id", sa.Integer(), sa.ForeignKey("fields.id"), nullable=False),
        sa.Column("quantity", sa.String(32), nullable=False),
        sa.Column("below", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        *_times("created_at", nullable=False),
    )
    op.create_index("ix_thresholds_field_id", "thresholds", ["field_id"])


def downgrade() -> None:
    for table in ("thresholds", "outbox", "alert_events", "alerts"):
        op.drop_table(table)
