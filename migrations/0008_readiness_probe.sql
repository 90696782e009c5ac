-- certmint ledger, version 8: /ready proves the ledger can commit, not only answer a read.
-- One row, rewritten by each probe: a read-only file, a full disk or a lost lock fails the probe.
CREATE TABLE readiness_probe (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at INTEGER NOT NULL
);
