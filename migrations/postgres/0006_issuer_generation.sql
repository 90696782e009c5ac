-- certmint ledger on PostgreSQL, version 6: intermediate generations (certmint ca rotate-intermediate).
-- (Port of migrations/0006_issuer_generation.sql.) Each generation signs its own CRL: crl_state
-- holds 'intermediate' for generation 1 and 'intermediate-<n>' for generation n >= 2, a row
-- created when first needed (INSERT … ON CONFLICT DO NOTHING, so two instances may both try).
ALTER TABLE certificates ADD COLUMN issuer_generation INTEGER NOT NULL DEFAULT 1
  CONSTRAINT certificates_issuer_generation_check CHECK (issuer_generation >= 1);
-- The CRL publisher asks, every check interval, whether a generation still has unexpired
-- certificates (the last notAfter of the generation): one index probe at any ledger size.
CREATE INDEX certificates_by_generation ON certificates (issuer_generation, not_after);
