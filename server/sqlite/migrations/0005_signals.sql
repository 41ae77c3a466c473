-- 0005: signals of guarded flags (server/signals): per environment, flag,
-- variant and event, the count and sum of tracked events per minute; the
-- event '' holds the flag's exposures (evaluations per variant). Kept for 7
-- days; rows go away with their flag or environment. (0004 is another
-- change's number.)

-- minute is the Unix time of the minute's start.
CREATE TABLE flag_signals (
	environment TEXT NOT NULL,
	flag_key    TEXT NOT NULL,
	variant     TEXT NOT NULL,
	event       TEXT NOT NULL,
	minute      INTEGER NOT NULL,
	count       INTEGER NOT NULL CHECK (count >= 0),
	sum         REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (environment, flag_key, minute, variant, event),
	FOREIGN KEY (environment, flag_key) REFERENCES flag_configs (environment, flag_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX flag_signals_minute ON flag_signals (minute);
