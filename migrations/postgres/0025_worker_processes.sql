-- certmint ledger, version 25 (issue 27): several worker processes on one SQLite file. PostgreSQL
-- needs nothing: its nonce tables exist since version 10, and instances hold their work by lease
-- (orders.processing_since) rather than in the SQLite ledger's ledger_holders.
SELECT 1;
