-- Placeholder for migration 0021 (admin client certificates, being merged from another branch of
-- issue 25). The migration runner refuses a gap in the numbers; when both merge, this file is
-- replaced by the real 0021, which must come first. It changes nothing.
SELECT 1;
