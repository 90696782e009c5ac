import type { Command } from 'commander';
import { AcmeProblem } from '../../core/problem.js';
import type { AdminTokenRecord, CertificateLedger } from '../../ledger/ledger.js';
import { adminTokenState, createAdminToken, revokeAdminToken } from '../../ra/admin-tokens.js';
import type { Clock } from '../../core/clock.js';
import { operatorName, readConfig, withLedger } from '../admin.js';
import { processClock } from '../fake-clock.js';
import { registerAdminCertCommands } from './admin-certs.js';
import { durationOption, UsageError } from './certs.js';

export interface AdminTokenCreateOptions {
  readonly name: string;
  readonly role: string;
  readonly expires?: string;
  readonly json?: boolean;
}

/** The ra/ use cases' refusals as one line and exit 1 (main.ts prints UsageError's message). */
async function asUsage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    throw e;
  }
}

/** `certmint admin token create`: the token is printed here, once; the ledger keeps its SHA-256. */
export async function adminTokenCreateCommand(ledger: CertificateLedger, clock: Clock, o: AdminTokenCreateOptions, operator: string): Promise<string> {
  const expiresInMs = durationOption(o.expires, '--expires');
  if (expiresInMs !== undefined && expiresInMs <= 0) throw new UsageError(`--expires: "${o.expires}" is no time at all; give e.g. 90d`);
  const issued = await asUsage(
    createAdminToken({ ledger, clock }, { name: o.name, role: o.role, ...(expiresInMs !== undefined ? { expiresInMs } : {}) }, `operator:${operator}`),
  );
  const expires = issued.expiresAt?.toISOString() ?? null;
  if (o.json) return `${JSON.stringify({ name: issued.name, role: issued.role, token: issued.token, expires })}\n`;
  return [
    `token: ${issued.token}`,
    `name ${issued.name}, role ${issued.role}, ${expires ? `expires ${expires}` : 'no expiry'}`,
    'The token is shown only now. Send it as "Authorization: Bearer <token>" to the admin API (admin.enabled).',
    '',
  ].join('\n');
}

function describe(t: AdminTokenRecord, now: Date) {
  return {
    name: t.name,
    role: t.role,
    state: adminTokenState(t, now),
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  };
}

/** `certmint admin token list`: every token with its state; never a token or its hash. */
export async function adminTokenListCommand(ledger: CertificateLedger, o: { json?: boolean }, now: Date): Promise<string> {
  const tokens = (await ledger.adminTokens.listAdminTokens()).map((t) => describe(t, now));
  if (o.json) return `${JSON.stringify(tokens, null, 2)}\n`;
  if (tokens.length === 0) return 'no admin tokens\n';
  const rows = tokens.map((t) => [t.name, t.role, t.state, t.createdAt, t.expiresAt ?? '-', t.lastUsedAt ?? '-']);
  const header = ['NAME', 'ROLE', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `certmint admin token revoke NAME`: the API refuses it from the next request on. */
export async function adminTokenRevokeCommand(ledger: CertificateLedger, clock: Clock, name: string, operator: string): Promise<string> {
  await asUsage(revokeAdminToken({ ledger, clock }, name, `operator:${operator}`));
  return `revoked admin token ${name}\n`;
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('the admin API (docs/console-and-admin-api.md)');
  const token = admin.command('token').description('bearer tokens of the admin API: created, listed and revoked here, stored hashed');
  registerAdminCertCommands(admin);
  token
    .command('create')
    .description('a new token: printed once, never again')
    .requiredOption('--name <name>', 'who holds it; the audit log names them admin:<name>')
    .requiredOption('--role <role>', 'viewer (reads) or operator (may also revoke)')
    .option('--expires <duration>', 'unusable after e.g. 90d (default: until revoked)')
    .option('--json', 'print {"name", "role", "token", "expires"}')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: AdminTokenCreateOptions & { config?: string }) => {
      process.stdout.write(await withLedger(readConfig(o.config), (ledger) => adminTokenCreateCommand(ledger, processClock(), o, operatorName())));
    });
  token
    .command('list')
    .description('every token with its role and state (never the token)')
    .option('--json', 'JSON instead of a table')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: { json?: boolean; config?: string }) => {
      process.stdout.write(await withLedger(readConfig(o.config), (ledger) => adminTokenListCommand(ledger, o, processClock().now())));
    });
  token
    .command('revoke <name>')
    .description('the admin API refuses the token from the next request on')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (name: string, o: { config?: string }) => {
      process.stdout.write(await withLedger(readConfig(o.config), (ledger) => adminTokenRevokeCommand(ledger, processClock(), name, operatorName())));
    });
}
