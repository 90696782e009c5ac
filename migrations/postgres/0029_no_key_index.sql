-- certmint ledger, version 29 (issue 27): one index write less per issuance.
-- certificates_by_key (key_hash, since 0001) has no reader: a blocked key is looked up in
-- blocked_keys (its primary key), and a revocation reads the certificate by serial. Its key is a
-- random SHA-256 in hex, so every issuance wrote one more leaf page somewhere in it and it held
-- ~100 bytes per certificate. A query that needs certificates by key brings its index back with it.
DROP INDEX IF EXISTS certificates_by_key;
