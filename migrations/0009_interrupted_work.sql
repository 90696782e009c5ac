-- certmint ledger, version 9: start-up finds work a stopped process left in the middle (orders and
-- challenges in 'processing') with two tiny partial indexes, not a scan of every order.
CREATE INDEX orders_processing ON orders (id) WHERE status = 'processing';
CREATE INDEX challenges_processing ON challenges (id) WHERE status = 'processing';
