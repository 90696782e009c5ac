-- certmint ledger, version 28 (issue 27): each distinct intermediate chain stored once.
-- Every certificate row held the PEM of the chain that followed it (~1 KB for one EC intermediate,
-- ~2 KB for RSA; as large as the leaf's DER or larger), the same text in every row under one
-- intermediate generation: a fifth of the ledger file in the benchmark (about 1,030 of 4,996 bytes per
-- certificate, docs/benchmarks.md). The chain now sits in certificate_chains, once per distinct
-- text (a rotated intermediate adds a row), and a certificate names it by id; readers join it
-- back, byte for byte (ledger/sqlite/statements.ts certificateBySerial).
-- Rows are never deleted: a handful per CA lifetime, and any certificate may still name one.
CREATE TABLE certificate_chains (
  id              INTEGER PRIMARY KEY,
  pem             TEXT NOT NULL UNIQUE           -- the intermediate(s) after the leaf, as served at issuance
);
-- Ids in the order the chains first appeared; one lookup in the (small) unique index per row.
INSERT INTO certificate_chains (pem) SELECT chain_pem FROM certificates WHERE true ORDER BY rowid ON CONFLICT (pem) DO NOTHING;
-- NULL only until the UPDATE below: every insert names a chain (SQLite cannot add a NOT NULL
-- column that REFERENCES another table without a non-NULL default).
ALTER TABLE certificates ADD COLUMN chain_id INTEGER REFERENCES certificate_chains (id);
UPDATE certificates SET chain_id = (SELECT ch.id FROM certificate_chains ch WHERE ch.pem = certificates.chain_pem);
-- Rewrites every row without its chain. The pages freed go to the freelist, where new rows find
-- them first: the file itself shrinks only on VACUUM (a backup copies the free pages too).
ALTER TABLE certificates DROP COLUMN chain_pem;
