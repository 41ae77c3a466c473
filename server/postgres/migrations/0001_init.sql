-- 0001: environments, flags, per-environment flag configurations, segments,
-- the append-only audit log, and the change log that carries committed
-- changes to the other server replicas. Times are timestamptz (microsecond
-- precision); documents are jsonb.

CREATE TABLE environments (
	name        text PRIMARY KEY,
	description text NOT NULL DEFAULT '',
	protected   boolean NOT NULL DEFAULT false,
	revision    bigint NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL,
	-- seq orders environments created at the same time by creation.
	seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);

-- definition is the JSON of engine.Flag; archived is copied out of it so
-- listing can filter without decoding.
CREATE TABLE flags (
	key        text PRIMARY KEY,
	archived   boolean NOT NULL DEFAULT false,
	definition jsonb NOT NULL,
	revision   bigint NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- flag_tags indexes the tags of each flag's definition for filtering.
CREATE TABLE flag_tags (
	flag_key text NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	tag      text NOT NULL,
	PRIMARY KEY (flag_key, tag)
);

CREATE INDEX flag_tags_tag ON flag_tags (tag);

-- config is the JSON of engine.Config.
CREATE TABLE flag_configs (
	environment text NOT NULL,
	flag_key    text NOT NULL,
	config      jsonb NOT NULL,
	revision    bigint NOT NULL,
	updated_at  timestamptz NOT NULL,
	PRIMARY KEY (environment, flag_key),
	CONSTRAINT flag_configs_environment_fkey FOREIGN KEY (environment) REFERENCES environments (name) ON DELETE CASCADE,
	CONSTRAINT flag_configs_flag_key_fkey FOREIGN KEY (flag_key) REFERENCES flags (key) ON DELETE CASCADE
);

CREATE INDEX flag_configs_flag_key ON flag_configs (flag_key);

-- definition is the JSON of engine.Segment.
CREATE TABLE segments (
	key        text PRIMARY KEY,
	definition jsonb NOT NULL,
	revision   bigint NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE audit_log (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time         timestamptz NOT NULL,
	actor_kind   text NOT NULL,
	actor_name   text NOT NULL,
	actor_source text NOT NULL,
	action       text NOT NULL,
	resource     text NOT NULL,
	key          text NOT NULL,
	environment  text NOT NULL DEFAULT '',
	before       jsonb,
	after        jsonb
);

CREATE INDEX audit_log_key ON audit_log (key, id);
CREATE INDEX audit_log_environment ON audit_log (environment, id);
CREATE INDEX audit_log_time ON audit_log (time);

-- The trail is append-only even for a buggy caller or a hand-typed query.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- changes holds each committed server.Change (JSON) by environment and
-- revision, written in the transaction that makes it. A replica told of a
-- change by NOTIFY reads it from here and publishes it to its own sync
-- streams. Only recent revisions are kept.
CREATE TABLE changes (
	environment text NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
	revision    bigint NOT NULL,
	replica     text NOT NULL,
	change      jsonb NOT NULL,
	PRIMARY KEY (environment, revision)
);
