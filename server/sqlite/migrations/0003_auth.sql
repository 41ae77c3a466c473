-- 0003: credentials. Token and session secrets are never stored, only their
-- SHA-256 (hash); passwords only as encoded argon2id hashes. Times as in
-- 0001; NULL for "never".

CREATE TABLE tokens (
	name         TEXT PRIMARY KEY,
	scope        TEXT NOT NULL CHECK (scope IN ('sdk', 'ci', 'admin')),
	-- environments is a JSON array of environment names.
	environments TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(environments)),
	hash         BLOB NOT NULL UNIQUE,
	hint         TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	expires_at   TEXT,
	last_used_at TEXT,
	revoked_at   TEXT
) STRICT;

CREATE TABLE users (
	username      TEXT PRIMARY KEY,
	role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
	password_hash TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
	hash       BLOB PRIMARY KEY,
	username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
