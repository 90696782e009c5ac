-- certmint ledger, version 24 (issue 26): dns-persist-01 challenges and pre-authorized policies.
--
-- dns-persist-01 (draft-ietf-acme-dns-persist-01) joins the challenge types. SQLite cannot change a
-- CHECK constraint in place, so the challenges table is rebuilt (same columns, same order, same
-- indexes); nothing references it. dns-persist-01 has no token: its rows store ''.
CREATE TABLE challenges_0024 (
  id              TEXT PRIMARY KEY,
  authorization_id TEXT NOT NULL REFERENCES authorizations(id),
  type            TEXT NOT NULL CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01', 'dns-persist-01')),
  token           TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at    INTEGER,
  error           TEXT,
  processing_by   TEXT,
  processing_since INTEGER
);
INSERT INTO challenges_0024 (id, authorization_id, type, token, status, validated_at, error, processing_by, processing_since)
  SELECT id, authorization_id, type, token, status, validated_at, error, processing_by, processing_since FROM challenges;
DROP TABLE challenges;
ALTER TABLE challenges_0024 RENAME TO challenges;
CREATE INDEX challenges_by_authz ON challenges (authorization_id);
CREATE INDEX challenges_processing ON challenges (id) WHERE status = 'processing';

-- An authorization made valid by the account's policy (`preAuthorized: true`) instead of a
-- challenge records the EAB key that bound the account; NULL for every challenge-validated one.
ALTER TABLE authorizations ADD COLUMN preauthorized_eab_kid TEXT REFERENCES eab_keys(kid);
