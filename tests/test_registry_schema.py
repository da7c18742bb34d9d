"""The registry's schema history (backend/db.py, backend/migrations/) on SQLite and on a real
PostgreSQL: an empty registry is made at the newest schema, a registry of before migrations
is upgraded keeping every row, an older one is refused until `ruong db upgrade`, a newer one
is refused and left alone, and every migration can be undone.

Each test runs on both databases (`registry_url`); the PostgreSQL ones start Debian's server
(tests/conftest.py `postgres`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from backend import db
from backend.registry import NodeConfig, NodeInfo, PlantingInfo, Registry, RegistryError
from backend.schema import Base, Farm, Node, Organisation, utc
from ruong.cli import main
from ruong.postgres import PostgresServer
from tests.conftest import write_config

FROZEN_0001 = Path(__file__).parent / "data" / "registry_0001_sqlite.sql"
NEWER = "9999_from_a_newer_ruong"
T = TypeVar("T")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: an SQLite file, or a new database on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


def with_engine(url: str, use: Callable[[Engine], T]) -> T:
    """`use` an engine on `url`, then dispose of it (no connection outlives a helper)."""
    engine = db.create(url)
    try:
        return use(engine)
    finally:
        engine.dispose()


def migrate(url: str, action: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command (`command.upgrade`, `command.downgrade`) to `revision` on `url`,
    on one connection as backend/db.py runs them."""
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))

    def run(engine: Engine) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            action(config, revision)

    with_engine(url, run)


def execute(url: str, *statements: str, **params: object) -> None:
    def run(engine: Engine) -> None:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement), params)

    with_engine(url, run)


def revision_of(url: str) -> str | None:
    return with_engine(url, lambda engine: db.state(engine).current)


def differences(url: str) -> list[object]:
    """What Alembic's autogenerate finds between the database and backend/schema.py."""

    def compare(engine: Engine) -> list[object]:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

    return with_engine(url, compare)


def describe(url: str) -> dict[str, dict[str, object]]:
    """Every table (but alembic_version) as the database reports it: columns in order with
    type and nullability, primary key, foreign keys, unique constraints, indexes."""

    def run(engine: Engine) -> dict[str, dict[str, object]]:
        inspector = inspect(engine)
        return {
            table: {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ],
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    + tuple(fk["referred_columns"])
                    for fk in inspector.get_foreign_keys(table)
                ),
                "unique": sorted(
                    tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
            }
            for table in sorted(inspector.get_table_names())
            if table != "alembic_version"
        }

    return with_engine(url, run)


def snapshot(url: str) -> tuple[object, ...]:
    """The schema, the version row and every table's rows: what "changes nothing" compares."""

    def rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
        with engine.connect() as connection:
            return {
                table: sorted(
                    map(tuple, connection.execute(text(f"SELECT * FROM {table}"))), key=repr
                )
                for table in inspect(connection).get_table_names()
            }

    return describe(url), with_engine(url, rows), revision_of(url)


def ruong_db(config: Path, action: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`ruong --config <config> db <action>`: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["--config", str(config), "db", action])
    out, err = capsys.readouterr()
    return code, out, err


def config_for(url: str, tmp_path: Path) -> Path:
    return write_config(tmp_path / "ruong.toml", registry_url=url)


# -- a registry as the code of commit 731f9bd made it (`create_all`, no alembic_version) ------


def make_legacy(url: str) -> None:
    """On SQLite, the frozen tables of 731f9bd; on PostgreSQL, revision 0001 (proven equal to
    them on SQLite) without its version table: an unversioned registry."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url[len("sqlite:///") :])
        try:
            connection.executescript(FROZEN_0001.read_text())
        finally:
            connection.close()
    else:
        migrate(url, command.upgrade, "0001")
        execute(url, "DROP TABLE alembic_version")


T0 = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)
KEYS = {
    "n0a1b2c3d": bytes(range(32)),
    "n1f2e3d4c": bytes(range(255, 223, -1)),
    "n2revoked": b"\x00" * 31 + b"\x01",
    "n3bacninh": bytes.fromhex("ff00" * 16),
}
REVOKED_AT = T0 + timedelta(days=30, microseconds=1)
NODES = [  # id, field, transport, created
    ("n0a1b2c3d", 1, "coap", T0),
    ("n1f2e3d4c", 1, "mqtt", T0 + timedelta(hours=1)),
    ("n2revoked", 2, "coap", T0 + timedelta(hours=2)),
    ("n3bacninh", 3, "mqtt", T0 + timedelta(hours=3)),
]
SOIL_CAL = [2876.5, 4.2, 1203.0, 41.7]  # dry counts, dry %, wet counts, wet %
CALIBRATED_AT = T0 + timedelta(minutes=20)
SETTINGS: list[tuple[str, int, dict[str, object]]] = [  # node, version, settings
    ("n0a1b2c3d", 1, {"interval_s": 900}),
    ("n0a1b2c3d", 2, {"interval_s": 600, "soil_cal": SOIL_CAL}),
    ("n3bacninh", 1, {"interval_s": 1800, "label": "ruộng bắc"}),
]


LEGACY_COLUMNS = {  # table: its columns at 731f9bd, the key first
    "farms": ("id", "name"),
    "fields": ("id", "farm_id", "name"),
    "plantings": ("field_id", "crop", "planted", "soil", "area_m2"),
    "nodes": ("id", "field_id", "transport", "key_hex", "created_at", "revoked_at"),
    "calibrations": (
        "id",
        "node_id",
        "dry_counts",
        "dry_vwc",
        "wet_counts",
        "wet_vwc",
        "dry_sd",
        "wet_sd",
        "measured_at",
    ),
    "node_configs": ("id", "node_id", "version", "settings_json", "created_at"),
}


def stored(url: str, moment: datetime) -> str | datetime:
    """A time as the old code's SQLAlchemy stored it: on SQLite naive UTC text (its DATETIME
    drops the zone), on PostgreSQL a timestamptz (psycopg's own conversion)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if url.startswith("sqlite") else moment


def fill_legacy(url: str) -> None:
    """2 farms, 3 fields, 4 nodes (one revoked), 2 plantings, a calibration, 3 config
    versions: one plain SQL INSERT per row, as the old code's rows. Integer ids come from the
    database as the ORM's did (SERIAL on PostgreSQL: its sequences stay right), so they are
    1, 2, 3 in insertion order on these fresh tables."""
    rows: dict[str, list[dict[str, object]]] = {
        "farms": [{"name": "ninh-binh-demo"}, {"name": "bac-ninh"}],
        "fields": [
            {"farm_id": 1, "name": "ruong-1"},
            {"farm_id": 1, "name": "ruong-2"},
            {"farm_id": 2, "name": "dong-bac"},
        ],
        "nodes": [
            {
                "id": node,
                "field_id": field,
                "transport": transport,
                "key_hex": KEYS[node].hex(),
                "created_at": stored(url, created),
                "revoked_at": stored(url, REVOKED_AT) if node == "n2revoked" else None,
            }
            for node, field, transport, created in NODES
        ],
        "plantings": [
            {
                "field_id": 1,
                "crop": "rice_spring",
                "planted": "2026-02-10",
                "soil": "silty_clay_loam",
                "area_m2": 1500.0,
            },
            {
                "field_id": 3,
                "crop": "rice_spring",
                "planted": "2026-02-14",
                "soil": "clay",
                "area_m2": 2412.75,
            },
        ],
        "calibrations": [
            {
                "node_id": "n0a1b2c3d",
                **dict(zip(("dry_counts", "dry_vwc", "wet_counts", "wet_vwc"), SOIL_CAL)),
                "dry_sd": 3.1,
                "wet_sd": 2.4,
                "measured_at": stored(url, CALIBRATED_AT),
            }
        ],
        "node_configs": [
            {
                "node_id": node,
                "version": version,
                "settings_json": json.dumps(settings, sort_keys=True),
                "created_at": stored(url, T0 + timedelta(days=i)),
            }
            for i, (node, version, settings) in enumerate(SETTINGS, start=1)
        ],
    }

    def insert(engine: Engine) -> None:
        with engine.begin() as connection:
            for table, table_rows in rows.items():
                for row in table_rows:
                    columns = ", ".join(row)
                    values = ", ".join(f":{column}" for column in row)
                    connection.execute(
                        text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row
                    )

    with_engine(url, insert)


def legacy_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables of before migrations, their columns of then, as stored."""

    def read(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
        with engine.connect() as connection:
            return {
                table: [
                    tuple(row)
                    for row in connection.execute(
                        text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}")
                    )
                ]
                for table, columns in LEGACY_COLUMNS.items()
            }

    return with_engine(url, read)


def expected_nodes() -> list[NodeInfo]:
    farm_field = {1: ("ninh-binh-demo", "ruong-1"), 2: ("ninh-binh-demo", "ruong-2")}
    farm_field[3] = ("bac-ninh", "dong-bac")
    return [
        NodeInfo(node, *farm_field[field], transport, KEYS[node], node == "n2revoked")
        for node, field, transport, _ in NODES
    ]


def test_sqlite_baseline_is_the_schema_of_before_migrations(tmp_path: Path) -> None:
    """Migration 0001 makes exactly the tables the code of 731f9bd made with `create_all`
    (tests/data/registry_0001_sqlite.sql): stamping such a registry 0001 is the truth."""
    frozen, migrated = (f"sqlite:///{tmp_path / name}.db" for name in ("frozen", "migrated"))
    make_legacy(frozen)
    migrate(migrated, command.upgrade, "0001")
    assert describe(migrated) == describe(frozen)
    assert set(describe(frozen)) == {
        "farms",
        "fields",
        "plantings",
        "nodes",
        "calibrations",
        "node_configs",
    }


def test_an_empty_database_is_made_at_the_newest_schema(registry_url: str) -> None:
    with Registry(registry_url) as registry:
        at = db.state(registry.engine)
        assert at.current == at.head
        assert registry.nodes() == []
    assert differences(registry_url) == []


def test_an_upgrade_from_before_migrations_keeps_every_row(
    registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_legacy(registry_url)
    fill_legacy(registry_url)
    assert revision_of(registry_url) == "legacy"
    rows_before = legacy_rows(registry_url)

    code, out, err = ruong_db(config_for(registry_url, tmp_path), "upgrade", capsys)
    assert (code, err) == (0, "")
    assert "upgraded from schema legacy" in out
    assert differences(registry_url) == []
    assert legacy_rows(registry_url) == rows_before  # as stored, to the byte

    with Registry(registry_url) as registry:
        assert registry.nodes() == expected_nodes()
        for info in expected_nodes():
            assert registry.node(info.node) == info
        assert [n.key for n in registry.nodes()] == list(KEYS.values())
        assert registry.plantings() == [
            PlantingInfo("bac-ninh", "dong-bac", "rice_spring", date(2026, 2, 14), "clay", 2412.75),
            PlantingInfo(
                "ninh-binh-demo",
                "ruong-1",
                "rice_spring",
                date(2026, 2, 10),
                "silty_clay_loam",
                1500.0,
            ),
        ]
        cal = registry.calibration("n0a1b2c3d")
        assert cal is not None
        assert cal.soil_cal == SOIL_CAL
        assert (cal.dry_sd, cal.wet_sd) == (3.1, 2.4)
        assert cal.measured_at == CALIBRATED_AT
        assert registry.calibration("n1f2e3d4c") is None
        configs = {
            (node, version): NodeConfig(node, version, settings, T0 + timedelta(days=i))
            for i, (node, version, settings) in enumerate(SETTINGS, start=1)
        }
        assert registry.config("n0a1b2c3d") == configs["n0a1b2c3d", 2]
        assert registry.config("n1f2e3d4c") is None
        assert sorted(registry.configs(), key=lambda c: c.node) == [
            configs["n0a1b2c3d", 2],
            configs["n3bacninh", 1],
        ]
        with Session(registry.engine) as session:
            revoked = {node.id: node.revoked_at for node in session.scalars(select(Node))}
            query = select(Farm.name, Organisation.name).join(Organisation)
            owners = {farm: org for farm, org in session.execute(query)}
        assert {n: t and utc(t) for n, t in revoked.items()} == {
            "n0a1b2c3d": None,
            "n1f2e3d4c": None,
            "n2revoked": REVOKED_AT,
            "n3bacninh": None,
        }
        assert owners == {"ninh-binh-demo": "default", "bac-ninh": "default"}

        # and it goes on working: a new node on a new field, the next config version
        new = registry.provision("bac-ninh", "dong-nam", "mqtt")
        assert registry.node(new.node) == new
        assert registry.set_config("n3bacninh", {"interval_s": 900}).version == 2


def test_an_older_schema_is_refused_until_ruong_db_upgrade(
    registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(registry_url, command.upgrade, "0001")
    config = config_for(registry_url, tmp_path)
    with pytest.raises(RegistryError, match="ruong db upgrade"):
        Registry(registry_url)

    code, out, _ = ruong_db(config, "status", capsys)
    assert code == 1
    assert "0001" in out
    code, out, err = ruong_db(config, "upgrade", capsys)
    assert (code, err) == (0, "")
    assert "from schema 0001" in out
    code, out, _ = ruong_db(config, "status", capsys)
    assert code == 0
    code, out, _ = ruong_db(config, "upgrade", capsys)
    assert code == 0
    assert "already" in out
    Registry(registry_url).close()


def make_newer(url: str) -> None:
    """A registry a newer Ruộng has upgraded: its version is one this code does not know."""
    Registry(url).close()
    execute(url, "UPDATE alembic_version SET version_num = :newer", newer=NEWER)


def test_a_newer_schema_is_refused_and_left_alone(
    registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_newer(registry_url)
    with pytest.raises(RegistryError, match="newer"):
        Registry(registry_url)

    before = snapshot(registry_url)
    code, out, err = ruong_db(config_for(registry_url, tmp_path), "upgrade", capsys)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "newer" in err
    assert snapshot(registry_url) == before
    assert revision_of(registry_url) == NEWER


def test_the_gateway_refuses_a_newer_schema_in_one_line(registry_url: str, tmp_path: Path) -> None:
    make_newer(registry_url)
    config = write_config(
        tmp_path / "ruong.toml",
        registry_url=registry_url,
        store_url=f"sqlite:///{tmp_path / 'readings.db'}",
        coap_bind="",
        mqtt_url="",
        gateway_spool=str(tmp_path / "spool.db"),
        gateway_metrics_bind="",
    )
    result = subprocess.run(
        [sys.executable, "-m", "ruong.cli", "--config", str(config), "gateway"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("ruong gateway: ")
    assert "newer" in result.stderr


def test_every_migration_can_be_undone_and_done_again(registry_url: str) -> None:
    """Down to 0001 gives back the tables of before migrations with their rows; down to
    nothing leaves no table; up again is the newest schema."""
    make_legacy(registry_url)
    fill_legacy(registry_url)
    baseline, rows_before = describe(registry_url), legacy_rows(registry_url)
    with_engine(registry_url, db.upgrade)

    migrate(registry_url, command.downgrade, "0001")
    assert revision_of(registry_url) == "0001"
    assert describe(registry_url) == baseline

    def keys(engine: Engine) -> dict[str, str]:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, key_hex FROM nodes"))
            return {node: key_hex for node, key_hex in rows}

    assert with_engine(registry_url, keys) == {node: key.hex() for node, key in KEYS.items()}
    assert legacy_rows(registry_url) == rows_before
    with_engine(registry_url, db.upgrade)
    with Registry(registry_url) as registry:
        assert registry.nodes() == expected_nodes()

    migrate(registry_url, command.downgrade, "base")
    assert with_engine(registry_url, lambda e: inspect(e).get_table_names()) == ["alembic_version"]
    assert revision_of(registry_url) is None
    with Registry(registry_url) as registry:
        assert registry.nodes() == []
    assert differences(registry_url) == []
