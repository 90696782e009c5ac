import { AcmeProblem } from '../../core/problem.js';
import type { EabKeyRecord } from '../../ledger/records.js';
import type { IssuedEabKey } from '../../ra/eab.js';
import type { RegistrationAuthority } from '../../ra/registration-authority.js';
import { eabKeyJson, eabKeyState } from '../../admin/access-views.js';
import { durationOption, UsageError } from './certs.js';

export interface EabCreateOptions {
  readonly label: string;
  readonly policy?: string;
  readonly expires?: string;
  readonly reusable?: boolean;
  readonly json?: boolean;
}

/** `certmint eab create`: the HMAC key is printed once here and never again. */
export async function eabCreateCommand(ra: RegistrationAuthority, o: EabCreateOptions, operator: string): Promise<string> {
  const expiresInMs = durationOption(o.expires, '--expires');
  let issued: IssuedEabKey;
  try {
    issued = await ra.createEabKey(
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
  if (o.json) return `${JSON.stringify({ ...eabKeyJson(issued.record), hmacKey: issued.hmacKey })}\n`;
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

/** `certmint eab list`: never the HMAC keys. */
export async function eabListCommand(ra: RegistrationAuthority, o: { json?: boolean }, now: Date): Promise<string> {
  const keys = await ra.deps.ledger.listEabKeys();
  if (o.json) return `${JSON.stringify(keys.map((k) => ({ ...eabKeyJson(k), state: eabKeyState(k, now) })), null, 2)}\n`;
  if (keys.length === 0) return 'no external account binding keys\n';
  const rows = keys.map((k) => [k.kid, k.label, k.policy ?? 'default', eabKeyState(k, now), String(k.bindings), k.expiresAt?.toISOString() ?? '-']);
  const header = ['KID', 'LABEL', 'POLICY', 'STATE', 'BINDINGS', 'EXPIRES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `certmint eab revoke KID`: no new account can bind with it; accounts already bound keep working. */
export async function eabRevokeCommand(ra: RegistrationAuthority, kid: string, operator: string): Promise<string> {
  let key: EabKeyRecord;
  try {
    key = await ra.revokeEabKey(kid, `operator:${operator}`);
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    throw e;
  }
  return `revoked external account binding key ${kid} (${key.label})\n`;
}
