-- 0003: credentials. Token and session secrets are never stored, only their
-- SHA-256 (hash); passwords only as encoded argon2id hashes. NULL times
-- mean "never".

CREATE TABLE tokens (
	name         text PRIMARY KEY,
	scope        text NOT NULL CHECK (scope IN ('sdk', 'ci', 'admin')),
	environments text[] NOT NULL DEFAULT '{}',
	hash         bytea NOT NULL UNIQUE,
	hint         text NOT NULL DEFAULT '',
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz,
	last_used_at timestamptz,
	revoked_at   timestamptz
);

CREATE TABLE users (
	username      text PRIMARY KEY,
	role          text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
	hash       bytea PRIMARY KEY,
	username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
