-- certmint ledger, version 13: what one account leaves behind is bounded.

-- limits.newAuthorizationsPerAccountPerHour counts an order's new authorizations in one event:
-- its weight. Events of every earlier scope weigh 1.
ALTER TABLE rate_limit_events ADD COLUMN weight INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 1);

-- ledger.retention: expired orders, authorizations and challenges are purged in small batches.
-- An order that got its certificate is kept for good (certificates.order_id refers to it), so the
-- purge walks only orders without one, by expiry: its batches never scan the issued ones.
CREATE INDEX orders_purgeable ON orders (expires, id) WHERE certificate_serial IS NULL;
-- Whether a certificate or an ARI replacement still refers to an order: one index probe each.
CREATE INDEX certificates_by_order ON certificates (order_id);
CREATE INDEX replacements_by_order ON replacements (order_id);
