-- certmint ledger on PostgreSQL, version 4: ACME Renewal Information (RFC 9773): operator-moved
-- windows and replacements. (Port of migrations/0004_renewal_info.sql.)

-- Certificates an operator asked to be renewed now (certmint certs renew-early): ARI answers them
-- with a window that ended at marked_at, so clients renew at their next check.
CREATE TABLE renew_early (
  serial          TEXT PRIMARY KEY REFERENCES certificates(serial),
  marked_at       BIGINT NOT NULL,
  explanation_url TEXT,                          -- RFC 9773 §4.2 explanationURL; NULL: none
  actor           TEXT NOT NULL
);

-- RFC 9773 §5: the order that replaces a certificate. One row per certificate: a new order may
-- take the row over only from an order that became invalid (ra/ checks, the ledger compares the
-- order id it saw, so two racing orders, on one instance or two, cannot both win).
CREATE TABLE replacements (
  serial          TEXT PRIMARY KEY REFERENCES certificates(serial),
  order_id        TEXT NOT NULL REFERENCES orders(id)
);

-- The certID the order named in "replaces", echoed in the order object.
ALTER TABLE orders ADD COLUMN replaces TEXT;
