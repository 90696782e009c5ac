-- certmint ledger, version 24 (issue 26): dns-persist-01 challenges and pre-authorized policies.
-- dns-persist-01 (draft-ietf-acme-dns-persist-01) joins the challenge types; it has no token (rows store '').
ALTER TABLE challenges DROP CONSTRAINT challenges_type_check;
ALTER TABLE challenges ADD CONSTRAINT challenges_type_check CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01', 'dns-persist-01'));

-- An authorization made valid by the account's policy (`preAuthorized: true`) instead of a
-- challenge records the EAB key that bound the account; NULL for every challenge-validated one.
ALTER TABLE authorizations ADD COLUMN preauthorized_eab_kid TEXT REFERENCES eab_keys(kid);
