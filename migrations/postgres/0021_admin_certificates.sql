-- certmint ledger, version 21 on PostgreSQL (issue 25): the admin client certificates of the admin API (mTLS).
-- Signed by the dedicated admin issuer (<dataDir>/ca/admin/, never the ACME intermediate); the
-- admin listener looks a presented certificate's serial up here on every request, so a revocation
-- takes effect on the next one. Only the serial and what it maps to: never a key.
CREATE TABLE admin_certificates (
  serial        TEXT PRIMARY KEY CHECK (length(serial) > 0),   -- lower-case hex, as the certificate's
  name          TEXT NOT NULL CHECK (length(name) > 0),
  role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator')),
  created_at    BIGINT NOT NULL,
  not_after     BIGINT NOT NULL,
  revoked_at    BIGINT
);
-- A name names one certificate that can still be revoked (`admin cert revoke NAME`).
CREATE UNIQUE INDEX admin_certificates_active_name ON admin_certificates (name) WHERE revoked_at IS NULL;
