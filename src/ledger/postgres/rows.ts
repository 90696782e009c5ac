// What only the PostgreSQL ledger reads: its column lists. The row shapes both ledgers share, and
// their mappers (the joined authorization rows too), are in rows.ts.

/** A BIGINT column of milliseconds or a count: pg hands it over as a string, since not every one fits a double. */
export type Int8 = string;

// Column lists, never `SELECT *`: a named statement prepared on a connection must keep its result
// shape when another instance migrates the schema under it.
export const ACCOUNT_COLUMNS = 'id, key_thumbprint, jwk, status, contact, tos_agreed, created_at, eab_kid, policy';
export const EAB_KEY_COLUMNS = 'kid, label, policy, hmac_sealed, reusable, created_at, expires_at, revoked_at, bound_account_id, bindings';
export const CERTIFICATE_SUMMARY_COLUMNS = `serial, account_id, identifiers, common_name, not_before, not_after, status, revoked_at,
  revocation_reason, created_at, profile, replaces, replaced_by, renewal_due_at`;
/** Of `certificates` joined with `certificate_chains ch` (migrations/postgres/0028_certificate_chains.sql). */
export const CERTIFICATE_COLUMNS = `${CERTIFICATE_SUMMARY_COLUMNS}, order_id, der, ch.pem AS chain_pem, key_hash, issuer_generation, crl_partition`;
