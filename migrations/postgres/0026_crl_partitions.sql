-- certmint ledger, version 26 (issue 27): partitioned CRLs (crl.partitions).
-- The CRL partition a certificate was issued into: its CRL distribution point names
-- /crl/<generation>/<partition>, and that partition's CRL lists it once revoked. NULL: issued with
-- crl.partitions 1 (every certificate before this version too); its distribution point is the whole
-- generation's CRL (/crl, /crl/<n>). Kept as issued: changing crl.partitions moves no certificate.
ALTER TABLE certificates ADD COLUMN crl_partition INTEGER CHECK (crl_partition BETWEEN 0 AND 255);
-- One partition's CRL reads only its own revoked, unexpired certificates: 1/N of the entries, at any ledger size.
CREATE INDEX certificates_revoked_by_partition ON certificates (issuer_generation, crl_partition, not_after)
  WHERE status = 'revoked' AND crl_partition IS NOT NULL;
