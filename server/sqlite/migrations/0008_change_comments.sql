-- 0008: change comments (issue 16). Each audit entry keeps the comment its
-- change was made with ('' for none); an environment may require one on
-- every change to it. audit_log_actor serves the audit filter by actor.

ALTER TABLE audit_log ADD COLUMN comment TEXT NOT NULL DEFAULT '';

ALTER TABLE environments ADD COLUMN require_comment INTEGER NOT NULL DEFAULT 0 CHECK (require_comment IN (0, 1));

CREATE INDEX audit_log_actor ON audit_log (actor_name, id);
