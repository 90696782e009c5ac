-- certmint ledger on PostgreSQL, version 9: start-up finds work a stopped process left in the
-- middle (orders and challenges in 'processing') with two tiny partial indexes, not a scan of
-- every order. (Port of migrations/0009_interrupted_work.sql.) With several instances, another
-- instance's in-flight work is also 'processing': the ledger must tell it apart (a lease, say)
-- before it resumes or fails it.
CREATE INDEX orders_processing ON orders (id) WHERE status = 'processing';
CREATE INDEX challenges_processing ON challenges (id) WHERE status = 'processing';
