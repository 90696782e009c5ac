-- Placeholder for migration 0014 (certificate lineage, written on another branch at the same time).
-- The migration runner refuses a gap in the numbers; when both branches merge, this file is
-- replaced by the real 0014, which must come first. It changes nothing.
SELECT 1;
