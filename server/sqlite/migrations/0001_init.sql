-- 0001: environments, flags, per-environment flag configurations, segments
-- and the append-only audit log. Times are UTC text in a fixed-width
-- RFC 3339 form (2006-01-02T15:04:05.000000000Z), so they sort as text.

CREATE TABLE environments (
	name        TEXT PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	protected   INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1)),
	revision    INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL
) STRICT;

-- definition is the JSON of engine.Flag; archived is copied out of it so
-- listing can filter without decoding.
CREATE TABLE flags (
	key        TEXT PRIMARY KEY,
	archived   INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
	definition TEXT NOT NULL CHECK (json_valid(definition)),
	revision   INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

-- flag_tags indexes the tags of each flag's definition for filtering.
CREATE TABLE flag_tags (
	flag_key TEXT NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	tag      TEXT NOT NULL,
	PRIMARY KEY (flag_key, tag)
) STRICT, WITHOUT ROWID;

CREATE INDEX flag_tags_tag ON flag_tags (tag);

-- config is the JSON of engine.Config.
CREATE TABLE flag_configs (
	environment TEXT NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
	flag_key    TEXT NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	config      TEXT NOT NULL CHECK (json_valid(config)),
	revision    INTEGER NOT NULL,
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (environment, flag_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX flag_configs_flag_key ON flag_configs (flag_key);

-- definition is the JSON of engine.Segment.
CREATE TABLE segments (
	key        TEXT PRIMARY KEY,
	definition TEXT NOT NULL CHECK (json_valid(definition)),
	revision   INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	time         TEXT NOT NULL,
	actor_kind   TEXT NOT NULL,
	actor_name   TEXT NOT NULL,
	actor_source TEXT NOT NULL,
	action       TEXT NOT NULL,
	resource     TEXT NOT NULL,
	"key"        TEXT NOT NULL,
	environment  TEXT NOT NULL DEFAULT '',
	"before"     TEXT CHECK ("before" IS NULL OR json_valid("before")),
	"after"      TEXT CHECK ("after" IS NULL OR json_valid("after"))
) STRICT;

CREATE INDEX audit_log_key ON audit_log ("key", id);
CREATE INDEX audit_log_environment ON audit_log (environment, id);
CREATE INDEX audit_log_time ON audit_log (time);

-- The trail is append-only even for a buggy caller.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
