-- 0008: change comments (issue 16). Each audit entry keeps the comment its
-- change was made with ('' for none); an environment may require one on
-- every change to it. audit_log_actor serves the audit filter by actor.

ALTER TABLE audit_log ADD COLUMN comment text NOT NULL DEFAULT '';

ALTER TABLE environments ADD COLUMN require_comment boolean NOT NULL DEFAULT false;

CREATE INDEX audit_log_actor ON audit_log (actor_name, id);
