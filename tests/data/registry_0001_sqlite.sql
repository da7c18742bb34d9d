-- The registry's tables as the code of commit 731f9bd made them on SQLite, before migrations:
-- `git show 731f9bd:backend/registry.py`, its `Base.metadata.create_all` run on a fresh file,
-- then `SELECT sql FROM sqlite_master ORDER BY rowid` (trailing blanks removed). Frozen: the
-- registries deployed until then look like this; tests/test_registry_schema.py checks that
-- migration 0001 makes the same tables and upgrades one of these keeping its rows.

CREATE TABLE farms (
	id INTEGER NOT NULL,
	name VARCHAR(64) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name)
);

CREATE TABLE fields (
	id INTEGER NOT NULL,
	farm_id INTEGER NOT NULL,
	name VARCHAR(64) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (farm_id, name),
	FOREIGN KEY(farm_id) REFERENCES farms (id)
);

CREATE TABLE plantings (
	field_id INTEGER NOT NULL,
	crop VARCHAR(32) NOT NULL,
	planted DATE NOT NULL,
	soil VARCHAR(32) NOT NULL,
	area_m2 FLOAT NOT NULL,
	PRIMARY KEY (field_id),
	FOREIGN KEY(field_id) REFERENCES fields (id)
);

CREATE TABLE nodes (
	id VARCHAR(32) NOT NULL,
	field_id INTEGER NOT NULL,
	transport VARCHAR(8) NOT NULL,
	key_hex VARCHAR(64) NOT NULL,
	created_at DATETIME NOT NULL,
	revoked_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(field_id) REFERENCES fields (id)
);

CREATE TABLE calibrations (
	id INTEGER NOT NULL,
	node_id VARCHAR(32) NOT NULL,
	dry_counts FLOAT NOT NULL,
	dry_vwc FLOAT NOT NULL,
	wet_counts FLOAT NOT NULL,
	wet_vwc FLOAT NOT NULL,
	dry_sd FLOAT NOT NULL,
	wet_sd FLOAT NOT NULL,
	measured_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(node_id) REFERENCES nodes (id)
);

CREATE INDEX ix_calibrations_node_id ON calibrations (node_id);

CREATE TABLE node_configs (
	id INTEGER NOT NULL,
	node_id VARCHAR(32) NOT NULL,
	version INTEGER NOT NULL,
	settings_json TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (node_id, version),
	FOREIGN KEY(node_id) REFERENCES nodes (id)
);

CREATE INDEX ix_node_configs_node_id ON node_configs (node_id);
