-- Placeholder for migration 0020 (written on another branch at the same time, issue 25).
-- The migration runner refuses a gap in the numbers; when both branches merge, this file is
-- replaced by the real 0020, which must come first. It changes nothing.
SELECT 1;
