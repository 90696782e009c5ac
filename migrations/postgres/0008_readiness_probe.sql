-- certmint ledger on PostgreSQL, version 8: /ready proves the ledger can commit, not only answer
-- a read. (Port of migrations/0008_readiness_probe.sql.) One row, rewritten by each probe
-- (INSERT … ON CONFLICT (id) DO UPDATE): a read-only replica, a full disk or a lost primary
-- fails the probe. Every instance writes the same row; the last one wins, which is all a probe needs.
CREATE TABLE readiness_probe (
  id         INTEGER PRIMARY KEY CONSTRAINT readiness_probe_id_check CHECK (id = 1),
  checked_at BIGINT NOT NULL
);
