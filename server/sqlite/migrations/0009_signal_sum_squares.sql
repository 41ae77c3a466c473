-- 0009: mean guards (issue 14, latency): the sum of the squares of the
-- tracked events' values per minute, next to their sum, so that a guard can
-- estimate each variant's variance. Rows stored before it, and counts from
-- SDKs that do not send it, hold 0: the guard recognises an impossible sum
-- of squares (n·Σx² < (Σx)²) and waits instead of judging.

ALTER TABLE flag_signals ADD COLUMN sum_squares REAL NOT NULL DEFAULT 0;
