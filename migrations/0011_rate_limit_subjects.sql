-- certmint ledger, version 11: nothing on SQLite.
--
-- The PostgreSQL ledger (migrations/postgres/0011) adds rate_limit_subjects, a row per rate-limit
-- subject that takes lock so several instances count one subject one at a time. One process
-- serves an SQLite ledger and its writes are serialized already.
SELECT 1;
