-- 0002: flag usage insights (server/usage): per flag and environment the
-- first and last evaluation and the single-variant streak, the services
-- that evaluate it, and variant counts per hour (kept for a day). Rows go
-- away with their flag or environment.

CREATE TABLE flag_usage (
	environment          text NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
	flag_key             text NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	first_evaluated      timestamptz NOT NULL,
	last_evaluated       timestamptz NOT NULL,
	-- single_variant is the only variant served since single_variant_since,
	-- '' once a flush saw more than one.
	single_variant       text NOT NULL DEFAULT '',
	single_variant_since timestamptz NOT NULL,
	PRIMARY KEY (environment, flag_key)
);

CREATE INDEX flag_usage_flag_key ON flag_usage (flag_key);

CREATE TABLE flag_usage_services (
	environment text NOT NULL,
	flag_key    text NOT NULL,
	service     text NOT NULL,
	last_seen   timestamptz NOT NULL,
	PRIMARY KEY (environment, flag_key, service),
	FOREIGN KEY (environment, flag_key) REFERENCES flag_usage (environment, flag_key) ON DELETE CASCADE
);

-- hour is the Unix time of the hour's start.
CREATE TABLE flag_usage_hourly (
	environment text NOT NULL,
	flag_key    text NOT NULL,
	hour        bigint NOT NULL,
	variant     text NOT NULL,
	count       bigint NOT NULL CHECK (count >= 0),
	PRIMARY KEY (environment, flag_key, hour, variant),
	FOREIGN KEY (environment, flag_key) REFERENCES flag_usage (environment, flag_key) ON DELETE CASCADE
);

CREATE INDEX flag_usage_hourly_hour ON flag_usage_hourly (hour);
