-- certmint ledger, version 28 (issue 27): each distinct intermediate chain stored once.
-- Every certificate row held the PEM of the chain that followed it (~2 KB for one intermediate,
-- more than the leaf's DER), the same text in every row under one intermediate generation: most
-- of the ledger's bytes, and a certificate row filled most of a 4 KiB page on its own. The chain
-- now sits in certificate_chains, once per distinct text (a rotated intermediate adds a row), and
-- a certificate names it by id; readers join it back, byte for byte (ledger/sqlite/certificates.ts).
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
-- Rewrites every row without its chain. The pages freed go to the freelist: the file shrinks on
-- VACUUM (or in a backup, which is a fresh copy).
ALTER TABLE certificates DROP COLUMN chain_pem;
