import { parseDuration } from '../../core/duration.js';
import { AcmeProblem } from '../../core/problem.js';
import type { EabKeyRecord } from '../../ledger/records.js';
import { createEabKey, type IssuedEabKey } from '../../ra/eab.js';
import type { RegistrationAuthority } from '../../ra/registration-authority.js';
import { UsageError } from './certs.js';

export interface EabCreateOptions {
  readonly label: string;
  readonly policy?: string;
  readonly expires?: string;
  readonly reusable?: boolean;
  readonly json?: boolean;
}

/** `certmint eab create`: the HMAC key is printed once here and never again. */
export async function eabCreateCommand(ra: RegistrationAuthority, o: EabCreateOptions, operator: string): Promise<string> {
  let expiresInMs: number | undefined;
  if (o.expires !== undefined) {
    try {
      expiresInMs = parseDuration(o.expires);
    } catch (e) {
      throw new UsageError(`--expires: ${(e as Error).message}`);
    }
  }
  let issued: IssuedEabKey;
  try {
    issued = await createEabKey(
      ra.deps,
      {
        label: o.label,
        ...(o.policy !== undefined ? { policy: o.policy } : {}),
        ...(expiresInMs !== undefined ? { expiresInMs } : {}),
        reusable: o.reusable ?? false,
      },
      `operator:${operator}`,
    );
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    throw e;
  }
  if (o.json) return `${JSON.stringify({ ...describe(issued.record), hmacKey: issued.hmacKey })}\n`;
  return [
    `key id:   ${issued.kid}`,
    `hmac key: ${issued.hmacKey}`,
    `label ${issued.record.label}, policy ${issued.record.policy ?? 'default'}, ${issued.record.reusable ? 'reusable' : 'single use'}, ${
      issued.record.expiresAt ? `expires ${issued.record.expiresAt.toISOString()}` : 'no expiry'
    }`,
    'The HMAC key is shown only now. certbot: --eab-kid=<key id> --eab-hmac-key=<hmac key>; lego: --eab --kid <key id> --hmac <hmac key>.',
    '',
  ].join('\n');
}

function describe(k: EabKeyRecord) {
  return {
    kid: k.kid,
    label: k.label,
    policy: k.policy ?? null,
    reusable: k.reusable,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    boundAccount: k.boundAccountId ?? null,
    bindings: k.bindings,
  };
}

function state(k: EabKeyRecord, now: Date): string {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt <= now) return 'expired';
  if (!k.reusable && k.boundAccountId) return 'used';
  return 'usable';
}

/** `certmint eab list`: never the HMAC keys. */
export async function eabListCommand(ra: RegistrationAuthority, o: { json?: boolean }, now: Date): Promise<string> {
  const keys = await ra.deps.ledger.listEabKeys();
  if (o.json) return `${JSON.stringify(keys.map((k) => ({ ...describe(k), state: state(k, now) })), null, 2)}\n`;
  if (keys.length === 0) return 'no external account binding keys\n';
  const rows = keys.map((k) => [k.kid, k.label, k.policy ?? 'default', state(k, now), String(k.bindings), k.expiresAt?.toISOString() ?? '-']);
  const header = ['KID', 'LABEL', 'POLICY', 'STATE', 'BINDINGS', 'EXPIRES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `certmint eab revoke KID`: no new account can bind with it; accounts already bound keep working. */
export async function eabRevokeCommand(ra: RegistrationAuthority, kid: string, operator: string): Promise<string> {
  const key = await ra.deps.ledger.getEabKey(kid);
  if (!key) throw new UsageError(`no external account binding key "${kid}" in this ledger`);
  if (!(await ra.deps.ledger.revokeEabKey(kid, ra.deps.clock.now(), `operator:${operator}`))) {
    throw new UsageError(`key ${kid} was already revoked`);
  }
  return `revoked external account binding key ${kid} (${key.label})\n`;
}
