-- certmint ledger, version 12: no schema change; a code step re-hashes keys.
--
-- certificates.key_hash, blocked_keys.key_hash and accounts.key_thumbprint were computed from keys
-- as clients spelled them (a compressed EC point, an RSA integer with a leading zero, …). The
-- migration runner follows this file with src/ledger/canonical-key-migration.ts, in the same
-- transaction, which recomputes them from certificates.der and accounts.jwk in canonical form.
SELECT 1;
