-- certmint ledger on PostgreSQL, version 5: certificate profiles (draft-ietf-acme-profiles).
-- NULL: the order named none and got the "default" profile. (Port of migrations/0005_profiles.sql.)
ALTER TABLE orders ADD COLUMN profile TEXT;
ALTER TABLE certificates ADD COLUMN profile TEXT;
