-- 0006: release plans and scheduled changes (server.ReleasePlan). spec is the
-- JSON of server.PlanSpec; NULL times mean "not yet". A plan goes away with
-- its flag or environment; its audit entries stay.

CREATE TABLE release_plans (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	environment     text NOT NULL,
	flag_key        text NOT NULL,
	spec            jsonb NOT NULL,
	state           text NOT NULL CHECK (state IN ('scheduled', 'running', 'paused', 'completed', 'rolled_back', 'cancelled')),
	step            integer NOT NULL DEFAULT 0 CHECK (step >= 0),
	start_at        timestamptz,
	step_started_at timestamptz,
	started_at      timestamptz,
	ended_at        timestamptz,
	reason          text NOT NULL DEFAULT '',
	evidence        jsonb,
	created_by      text NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	revision        bigint NOT NULL,
	-- The replica that runs the plan until lease_until ('' and NULL: none).
	lease_owner     text NOT NULL DEFAULT '',
	lease_until     timestamptz,
	CONSTRAINT release_plans_environment_fkey FOREIGN KEY (environment) REFERENCES environments (name) ON DELETE CASCADE,
	CONSTRAINT release_plans_flag_key_fkey FOREIGN KEY (flag_key) REFERENCES flags (key) ON DELETE CASCADE
);

-- At most one active plan per flag and environment.
CREATE UNIQUE INDEX release_plans_one_active ON release_plans (environment, flag_key)
	WHERE state IN ('scheduled', 'running', 'paused');

CREATE INDEX release_plans_flag ON release_plans (flag_key, environment, id);
CREATE INDEX release_plans_state ON release_plans (state) WHERE state IN ('scheduled', 'running', 'paused');
