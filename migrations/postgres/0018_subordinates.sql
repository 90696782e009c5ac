-- Placeholder on branch h25-adm only: migration numbers must be contiguous (ledger/migrate.ts), and
-- 0018 belongs to the subordinate-CA work (branch h24-sub). At merge, take that branch's file.
SELECT 1;
