-- 0004: reserved for the environment tombstones of another branch, which
-- replaces this file when the branches are merged. It changes nothing.
SELECT 1;
