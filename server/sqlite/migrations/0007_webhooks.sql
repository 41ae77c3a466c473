-- 0007: webhook subscriptions and their outbox (issue 15). A change
-- enqueues its deliveries in its own transaction; the dispatcher claims
-- them with a lease (lease_owner, lease_until) so that one server sends
-- each, and a delivery whose sender died is claimed again once the lease
-- ends.

CREATE TABLE webhooks (
	id           TEXT PRIMARY KEY,
	url          TEXT NOT NULL,
	-- events and environments are JSON arrays of names.
	events       TEXT NOT NULL CHECK (json_valid(events)),
	environments TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(environments)),
	slack        INTEGER NOT NULL DEFAULT 0,
	secret       TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL UNIQUE,
	webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	body        BLOB NOT NULL,
	state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at     TEXT NOT NULL,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq);
