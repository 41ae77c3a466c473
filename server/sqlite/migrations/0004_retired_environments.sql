-- 0004: the last revision of each deleted environment. An environment
-- created again under the same name starts from it, so its revisions never
-- go backwards for an SDK that held the deleted one (issue 11, F1).

CREATE TABLE retired_environments (
	name     TEXT PRIMARY KEY,
	revision INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
