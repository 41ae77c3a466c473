-- 0007: webhook subscriptions and their outbox (issue 15). A change
-- enqueues its deliveries in its own transaction; the dispatcher claims
-- them with a lease (lease_owner, lease_until) so that one replica sends
-- each, and a delivery whose sender died is claimed again once the lease
-- ends.

CREATE TABLE webhooks (
	id           text PRIMARY KEY,
	url          text NOT NULL,
	events       text[] NOT NULL,
	environments text[] NOT NULL DEFAULT '{}',
	slack        boolean NOT NULL DEFAULT false,
	secret       text NOT NULL,
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
	seq         bigserial PRIMARY KEY,
	id          text NOT NULL UNIQUE,
	webhook_id  text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	kind        text NOT NULL,
	body        bytea NOT NULL,
	state       text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts    integer NOT NULL DEFAULT 0,
	next_at     timestamptz NOT NULL,
	last_status integer NOT NULL DEFAULT 0,
	last_error  text NOT NULL DEFAULT '',
	lease_owner text NOT NULL DEFAULT '',
	lease_until timestamptz,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq);
