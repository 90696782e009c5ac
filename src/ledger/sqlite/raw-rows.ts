import type { AuthorizationChallengeRow, CertificateRow, OrderRow } from '../rows.js';

// The hot reads of an issuance (an order's authorizations with their challenges, the order, the
// certificate) come back from better-sqlite3 as arrays (Statement.raw()) and are named here by
// object literals: better-sqlite3 builds a row object by setting each column as a property from
// C++, which cost more than the query on these rows (issue 27, bench/ledger-calls.mjs: an
// authorization with three challenges 15.5-16.6 → 9.4-9.9 µs per read). Each column list below
// is the SELECT's, and its mapper reads the columns at the same positions: change them together.

/** An authorization joined with one challenge: after the caller's leading `n` column. */
export const AUTHZ_WITH_CHALLENGE_COLUMNS = `a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, a.status, a.expires,
  a.created_at, a.preauthorized_eab_kid, c.id AS c_id, c.type AS c_type, c.token AS c_token, c.status AS c_status,
  c.validated_at AS c_validated_at, c.error AS c_error`;

type Raw = readonly unknown[];

/** A raw row of `n, ${AUTHZ_WITH_CHALLENGE_COLUMNS}`. */
export function authorizationChallengeRow(r: Raw): AuthorizationChallengeRow {
  return {
    n: r[0],
    id: r[1],
    account_id: r[2],
    identifier_type: r[3],
    identifier_value: r[4],
    wildcard: r[5],
    status: r[6],
    expires: r[7],
    created_at: r[8],
    preauthorized_eab_kid: r[9],
    c_id: r[10],
    c_type: r[11],
    c_token: r[12],
    c_status: r[13],
    c_validated_at: r[14],
    c_error: r[15],
  } as AuthorizationChallengeRow;
}

export const authorizationChallengeRows = (rows: unknown[]): AuthorizationChallengeRow[] => (rows as Raw[]).map(authorizationChallengeRow);

/** An order and its authorization ids by position (`o`: orders). */
export const ORDER_COLUMNS = `o.id, o.account_id, o.status, o.identifiers, o.not_before, o.not_after, o.expires, o.error,
  o.certificate_serial, o.created_at, o.profile, o.replaces, (SELECT group_concat(authorization_id) FROM
  (SELECT authorization_id FROM order_authorizations WHERE order_id = o.id ORDER BY position)) AS authz_ids`;

/** A raw row of ORDER_COLUMNS; undefined for none. */
export function orderRow(r: Raw | undefined): OrderRow | undefined {
  if (r === undefined) return undefined;
  return {
    id: r[0],
    account_id: r[1],
    status: r[2],
    identifiers: r[3],
    not_before: r[4],
    not_after: r[5],
    expires: r[6],
    error: r[7],
    certificate_serial: r[8],
    created_at: r[9],
    profile: r[10],
    replaces: r[11],
    authz_ids: r[12],
  } as OrderRow;
}

/** A certificate with its chain's PEM (`c`: certificates, `ch`: certificate_chains). */
export const CERTIFICATE_COLUMNS = `c.serial, c.account_id, c.order_id, c.der, ch.pem AS chain_pem, c.identifiers, c.common_name,
  c.key_hash, c.not_before, c.not_after, c.status, c.revoked_at, c.revocation_reason, c.created_at, c.profile,
  c.issuer_generation, c.crl_partition, c.replaces, c.replaced_by, c.renewal_due_at`;

/** A raw row of CERTIFICATE_COLUMNS; undefined for none. */
export function certificateRow(r: Raw | undefined): CertificateRow | undefined {
  if (r === undefined) return undefined;
  return {
    serial: r[0],
    account_id: r[1],
    order_id: r[2],
    der: r[3],
    chain_pem: r[4],
    identifiers: r[5],
    common_name: r[6],
    key_hash: r[7],
    not_before: r[8],
    not_after: r[9],
    status: r[10],
    revoked_at: r[11],
    revocation_reason: r[12],
    created_at: r[13],
    profile: r[14],
    issuer_generation: r[15],
    crl_partition: r[16],
    replaces: r[17],
    replaced_by: r[18],
    renewal_due_at: r[19],
  } as CertificateRow;
}
