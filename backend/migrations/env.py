"""Alembic's environment for the registry: run by backend/db.py, which hands over an open
connection (`config.attributes["connection"]`), so no URL (nor its password) passes through
Alembic's ini interpolation. Batch mode lets the same migration alter tables on SQLite, which
has no ALTER COLUMN, and on PostgreSQL."""

from alembic import context

from backend.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
