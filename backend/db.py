"""The registry's database: its engine and its schema version (Alembic, backend/migrations/).

`ruong db upgrade` brings a registry to the newest schema: an empty database gets every
revision; one made before migrations existed (today's tables, no `alembic_version`) is stamped
with the baseline revision 0001 and upgraded from there, keeping its rows. Opening a registry
(:func:`open_engine`) upgrades an empty database by itself, so `ruong demo`, `serve` and
`gateway` start on nothing; it refuses a database with an older schema (run `ruong db
upgrade`, after a backup) and one whose schema is newer than this code (a newer Ruộng wrote
it: running older code on it could lose data).

URLs are SQLAlchemy's; `postgresql://` means psycopg 3 (`postgresql+psycopg://`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the tables `create_all` made before migrations


class SchemaError(RuntimeError):
    """The database's schema is not the one this code runs on; the message says what to do."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: no registry yet; `legacy`: the tables of
    before migrations, unversioned) and this code's newest."""

    current: str | None
    head: str

    @property
    def empty(self) -> bool:
        return self.current is None


def engine_url(url: str) -> str:
    """The SQLAlchemy URL to connect with (psycopg 3 for plain `postgresql://`)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create(url: str) -> Engine:
    """An engine for `url`, creating an SQLite file's directory."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(engine_url(url))


def _config(engine: Engine) -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config, ScriptDirectory.from_config(config)


def state(engine: Engine) -> SchemaState:
    """The database's revision against this code's newest."""
    _, scripts = _config(engine)
    head = scripts.get_current_head()
    assert head is not None  # the package ships its migrations
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None and inspect(connection).has_table("farms"):
            current = "legacy"
    return SchemaState(current, head)


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    """Whether `revision` is one of this code's, exactly: `get_revision` raises on an unknown
    id rather than returning None, and resolves a prefix ("000") as Alembic's command line
    does, so a database's version is checked against the ids themselves."""
    return revision in {script.revision for script in scripts.walk_revisions()}


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; (revision before, after)."""
    config, scripts = _config(engine)
    before = state(engine)
    if before.current not in (None, "legacy") and not _known(scripts, before.current):
        raise _newer(before)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if before.current == "legacy":
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    return before.current, before.head


def _newer(at: SchemaState) -> SchemaError:
    return SchemaError(
        f"the registry's schema {at.current} is newer than this Ruộng knows (up to {at.head}): "
        "run the Ruộng that wrote it, or upgrade this one"
    )


def open_engine(url: str) -> Engine:
    """An engine on a registry at the newest schema: an empty database is created at it;
    any other version raises SchemaError saying what to do."""
    engine = create(url)
    at = state(engine)
    if at.current == at.head:
        return engine
    if at.empty:
        upgrade(engine)
        return engine
    _, scripts = _config(engine)
    if at.current not in (None, "legacy") and not _known(scripts, at.current):
        engine.dispose()
        raise _newer(at)
    engine.dispose()
    raise SchemaError(
        f"the registry's schema is {at.current}, this Ruộng needs {at.head}: back it up, then "
        "run `ruong db upgrade`"
    )
