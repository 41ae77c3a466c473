-- 0006: release plans and scheduled changes (server.ReleasePlan). spec is the
-- JSON of server.PlanSpec; times as in 0001, NULL for "not yet". A plan goes
-- away with its flag or environment; its audit entries stay.

CREATE TABLE release_plans (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	environment     TEXT NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
	flag_key        TEXT NOT NULL REFERENCES flags (key) ON DELETE CASCADE,
	spec            TEXT NOT NULL CHECK (json_valid(spec)),
	state           TEXT NOT NULL CHECK (state IN ('scheduled', 'running', 'paused', 'completed', 'rolled_back', 'cancelled')),
	step            INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
	start_at        TEXT,
	step_started_at TEXT,
	started_at      TEXT,
	ended_at        TEXT,
	reason          TEXT NOT NULL DEFAULT '',
	evidence        TEXT CHECK (evidence IS NULL OR json_valid(evidence)),
	created_by      TEXT NOT NULL,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL,
	revision        INTEGER NOT NULL,
	-- The replica that runs the plan until lease_until ('' and NULL: none).
	lease_owner     TEXT NOT NULL DEFAULT '',
	lease_until     TEXT
) STRICT;

-- At most one active plan per flag and environment.
CREATE UNIQUE INDEX release_plans_one_active ON release_plans (environment, flag_key)
	WHERE state IN ('scheduled', 'running', 'paused');

CREATE INDEX release_plans_flag ON release_plans (flag_key, environment, id);
CREATE INDEX release_plans_state ON release_plans (state) WHERE state IN ('scheduled', 'running', 'paused');
