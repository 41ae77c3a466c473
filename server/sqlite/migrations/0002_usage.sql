-- Flag usage insights (server/usage): per flag and environment the first and
-- last evaluation and the single-variant streak, the services that evaluate
-- it, and variant counts per hour (kept for a day). Rows go away with their
-- flag or environment.

CREATE TABLE flag_usage (
	environment          TEXT NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
	flag_key             TEXT NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	first_evaluated      TEXT NOT NULL,
	last_evaluated       TEXT NOT NULL,
	-- single_variant is the only variant served since single_variant_since,
	-- '' once a flush saw more than one.
	single_variant       TEXT NOT NULL DEFAULT '',
	single_variant_since TEXT NOT NULL,
	PRIMARY KEY (environment, flag_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX flag_usage_flag_key ON flag_usage (flag_key);

CREATE TABLE flag_usage_services (
	environment TEXT NOT NULL,
	flag_key    TEXT NOT NULL,
	service     TEXT NOT NULL,
	last_seen   TEXT NOT NULL,
	PRIMARY KEY (environment, flag_key, service),
	FOREIGN KEY (environment, flag_key) REFERENCES flag_usage (environment, flag_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- hour is the Unix time of the hour's start.
CREATE TABLE flag_usage_hourly (
	environment TEXT NOT NULL,
	flag_key    TEXT NOT NULL,
	hour        INTEGER NOT NULL,
	variant     TEXT NOT NULL,
	count       INTEGER NOT NULL CHECK (count >= 0),
	PRIMARY KEY (environment, flag_key, hour, variant),
	FOREIGN KEY (environment, flag_key) REFERENCES flag_usage (environment, flag_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX flag_usage_hourly_hour ON flag_usage_hourly (hour);
