"""Plantings: the rice variety (a key in forecasting/data/rice_varieties.csv), whose duration
in the season scales the crop's FAO-56 stages; None for a planting without one. And the
season's length `season_days` (transplanting to harvest, days), which dates the harvest for the
season report; None when unknown.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable: every planting of before keeps its FAO-56 season
    op.add_column("plantings", sa.Column("variety", sa.String(32), nullable=True))
    # nullable: a planting of before has no recorded season length (no harvest date)
    op.add_column("plantings", sa.Column("season_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite before 3.35 cannot DROP COLUMN: batch mode copies the table without it
    with op.batch_alter_table("plantings") as batch:
        batch.drop_column("season_days")
        batch.drop_column("variety")
