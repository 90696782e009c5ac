-- certmint ledger, version 18 (issue 24).
-- Subordinate CAs: CA certificates a root of certmint's signed for another system (certmint ca
-- sign-subordinate: Vault's intermediate, any CA's CSR; certmint ca issue-istio-ca: istiod's plug-in
-- CA). Not leaves: they are on the root's CRL (crl_state 'root' / 'root-<n>'), not an
-- intermediate's, so they get a table of their own rather than rows in certificates.
CREATE TABLE subordinate_cas (
  serial            TEXT PRIMARY KEY,            -- lower-case hex, as in certificates
  label             TEXT NOT NULL,               -- the operator's name for it (--label; istio-<trust domain>)
  kind              TEXT NOT NULL CHECK (kind IN ('subordinate', 'istio')),
  root_generation   INTEGER NOT NULL,            -- the root that signed it: whose CRL lists it once revoked
  subject           TEXT NOT NULL,
  not_before        INTEGER NOT NULL,
  not_after         INTEGER NOT NULL,
  der               BLOB NOT NULL,
  pem               TEXT NOT NULL,
  constraints       TEXT NOT NULL,               -- JSON {permitted: [...], excluded: [...]} in the text form of ca.nameConstraints
  key_hash          TEXT NOT NULL,               -- SHA-256 of the subject SPKI, hex
  created_at        INTEGER NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
  revoked_at        INTEGER,
  revocation_reason INTEGER,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX subordinate_cas_by_expiry ON subordinate_cas (not_after);
-- What a root's CRL reads: the revoked subordinates of one root generation.
CREATE INDEX subordinate_cas_revoked ON subordinate_cas (root_generation, not_after) WHERE status = 'revoked';
