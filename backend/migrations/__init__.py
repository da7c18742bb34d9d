"""The registry's schema history (Alembic): one revision per change, applied by
`ruong db upgrade` (backend/db.py)."""
