-- certmint ledger, version 27 (issue 27): two index writes less per issuance.
-- Every INSERT into certificates writes each of its non-partial indexes (and the partial ones whose
-- condition the new row meets): a B-tree page dirtied, written to the WAL and synced per issuance.
--
-- certificates_by_account (account_id, created_at) goes: its one reader, the count of an account's
-- certificates (ledger/postgres/accounts.ts), is a covering range of certificates_lineage, which
-- account_id leads as well.
DROP INDEX certificates_by_account;
-- certificates_by_generation (issuer_generation, not_after) and its partial twin
-- certificates_live_by_generation (same columns, WHERE status = 'valid') become one index with the
-- status as its last column: the last expiry of a generation (MAX(not_after)) is still one seek,
-- and the valid certificates per generation (summary, /metrics, ca status) are still counted by
-- an index-only scan, never a row per certificate (ledger/postgres/crl.ts).
DROP INDEX certificates_live_by_generation;
DROP INDEX certificates_by_generation;
CREATE INDEX certificates_by_generation_status ON certificates (issuer_generation, not_after, status);
