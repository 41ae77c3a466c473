-- 0005: signals of guarded flags (server/signals): per environment, flag,
-- variant and event, the count and sum of tracked events per minute; the
-- event '' holds the flag's exposures (evaluations per variant). Kept for 7
-- days; rows go away with their flag or environment. (0004 is another
-- change's number.)

-- minute is the Unix time of the minute's start.
CREATE TABLE flag_signals (
	environment text NOT NULL,
	flag_key    text NOT NULL,
	variant     text NOT NULL,
	event       text NOT NULL,
	minute      bigint NOT NULL,
	count       bigint NOT NULL CHECK (count >= 0),
	sum         double precision NOT NULL DEFAULT 0,
	PRIMARY KEY (environment, flag_key, minute, variant, event),
	FOREIGN KEY (environment, flag_key) REFERENCES flag_configs (environment, flag_key) ON DELETE CASCADE
);

CREATE INDEX flag_signals_minute ON flag_signals (minute);
