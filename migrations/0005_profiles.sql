-- certmint ledger, version 5: certificate profiles (draft-ietf-acme-profiles). NULL: the order
-- named none and got the "default" profile.
ALTER TABLE orders ADD COLUMN profile TEXT;
ALTER TABLE certificates ADD COLUMN profile TEXT;
