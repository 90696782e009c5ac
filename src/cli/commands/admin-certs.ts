import { generateKeyPairSync } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ADMIN_ISSUER_LIFETIME_MS, openAdminIssuer } from '../../ca/admin-issuer.js';
import { CaError } from '../../ca/ca-file-io.js';
import { nativeCryptoProvider } from '../../ca/crypto-provider.js';
import { configuredKeyPassphrase } from '../../ca/key-passphrase.js';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../core/clock.js';
import { createSyncedFile, writeFileAtomically } from '../../core/atomic-file.js';
import { AcmeProblem } from '../../core/problem.js';
import type { AdminCertificateRecord, CertificateLedger } from '../../ledger/ledger.js';
import { adminCertificateState, checkAdminCertificateRequest, createAdminCertificate, revokeAdminCertificate } from '../../ra/admin-certificates.js';
import { operatorName, readConfig, withLedger } from '../admin.js';
import { processClock } from '../fake-clock.js';
import { durationOption, UsageError } from './certs.js';

export interface AdminCertCreateOptions {
  readonly name: string;
  readonly role: string;
  readonly expires?: string;
  readonly out: string;
  readonly json?: boolean;
}

/** The ra/ use cases' refusals (and the issuer's) as one line and exit 1 (main.ts prints UsageError's message). */
function asUsage<T>(work: () => T): T {
  try {
    return work();
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    throw e;
  }
}

async function usage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (e instanceof AcmeProblem) throw new UsageError(e.detail);
    if (e instanceof CaError) throw new UsageError(e.message);
    throw e;
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then((s) => s.isDirectory(), () => false);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/**
 * `certmint admin cert create`: a key and a client certificate from the admin issuer (created on
 * first use), written to --out, and the serial, name and role recorded in the ledger. Everything
 * that can be refused is checked before anything is written.
 */
export async function adminCertCreateCommand(config: Config, ledger: CertificateLedger, clock: Clock, o: AdminCertCreateOptions, operator: string): Promise<string> {
  const expiresInMs = durationOption(o.expires, '--expires');
  if (expiresInMs !== undefined && expiresInMs <= 0) throw new UsageError(`--expires: "${o.expires}" is no time at all; give e.g. 90d`);
  const req = asUsage(() => checkAdminCertificateRequest({ name: o.name, role: o.role, ...(expiresInMs !== undefined ? { expiresInMs } : {}) }));
  // The issuer's own check, made here too so that it refuses before a first issuer is created.
  if (req.lifetimeMs > ADMIN_ISSUER_LIFETIME_MS) throw new UsageError(`an admin certificate cannot outlive the admin issuer (${ADMIN_ISSUER_LIFETIME_MS / 86_400_000}d)`);
  const out = path.resolve(o.out);
  if (!(await isDirectory(out))) throw new UsageError(`--out ${o.out} is not a directory`);
  const files = { key: path.join(out, `${req.name}.key`), cert: path.join(out, `${req.name}.crt`), issuer: path.join(out, 'admin-ca.crt') };
  for (const file of [files.key, files.cert]) {
    if (await exists(file)) throw new UsageError(`${file} exists; certmint never overwrites a key or certificate (move it away or choose another --out)`);
  }
  if ((await ledger.adminCertificates.listAdminCertificates()).some((c) => c.name === req.name && !c.revokedAt)) {
    throw new UsageError(`there is already an admin certificate named "${req.name}"; revoke it first or choose another name`);
  }

  const { issuer, created } = await usage(
    openAdminIssuer({
      dataDir: config.dataDir,
      caName: config.ca.name,
      crypto: nativeCryptoProvider(),
      now: clock.now(),
      ...withPassphrase(config),
    }),
  );
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const issued = await usage(createAdminCertificate({ ledger, clock }, issuer, { ...req, spki }, `operator:${operator}`));
  // O_EXCL and the final mode from the start: the key is never readable by others, not for a moment.
  await createSyncedFile(files.key, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  await createSyncedFile(files.cert, issued.certificatePem.replace(/\r\n/g, '\n') + '\n', 0o644);
  await writeFileAtomically(files.issuer, issuer.certificatePem, { mode: 0o644 });

  const summary = { name: issued.name, role: issued.role, serial: issued.serial, notAfter: issued.notAfter.toISOString(), ...files };
  if (o.json) return `${JSON.stringify(summary)}\n`;
  return [
    ...(created ? [`created the admin issuer in ${path.join(config.dataDir, 'ca', 'admin')}`] : []),
    `admin certificate for ${issued.name} (${issued.role}), serial ${issued.serial}, expires ${summary.notAfter}`,
    `key: ${files.key}`,
    `certificate: ${files.cert}`,
    `issuer: ${files.issuer}`,
    'The admin listener accepts it when admin.clientCertificates is true (curl --cert/--key).',
    '',
  ].join('\n');
}

function withPassphrase(config: Config) {
  const keyPassphrase = configuredKeyPassphrase(config.ca.keyPassphraseFile, process.env);
  return keyPassphrase ? { keyPassphrase } : {};
}

function describe(c: AdminCertificateRecord, now: Date) {
  return {
    name: c.name,
    role: c.role,
    serial: c.serial,
    state: adminCertificateState(c, now),
    createdAt: c.createdAt.toISOString(),
    notAfter: c.notAfter.toISOString(),
    revokedAt: c.revokedAt?.toISOString() ?? null,
  };
}

/** `certmint admin cert list`: every admin certificate with its state. */
export async function adminCertListCommand(ledger: CertificateLedger, o: { json?: boolean }, now: Date): Promise<string> {
  const certs = (await ledger.adminCertificates.listAdminCertificates()).map((c) => describe(c, now));
  if (o.json) return `${JSON.stringify(certs, null, 2)}\n`;
  if (certs.length === 0) return 'no admin certificates\n';
  const rows = certs.map((c) => [c.name, c.role, c.state, c.serial, c.createdAt, c.notAfter]);
  const header = ['NAME', 'ROLE', 'STATE', 'SERIAL', 'CREATED', 'EXPIRES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `certmint admin cert revoke NAME`: the admin listener refuses the certificate from the next request on. */
export async function adminCertRevokeCommand(ledger: CertificateLedger, clock: Clock, name: string, operator: string): Promise<string> {
  await usage(revokeAdminCertificate({ ledger, clock }, name, `operator:${operator}`));
  return `revoked the admin certificate of ${name}\n`;
}

export function registerAdminCertCommands(admin: Command): void {
  const cert = admin.command('cert').description('mTLS client certificates of the admin API, from the admin issuer (admin.clientCertificates)');
  cert
    .command('create')
    .description('a key and a client certificate for one admin, written to --out')
    .requiredOption('--name <name>', 'who holds it; the audit log names them admin:<name>')
    .requiredOption('--role <role>', 'viewer (reads) or operator (may also revoke)')
    .option('--expires <duration>', 'its lifetime, e.g. 30d (default 90d)')
    .requiredOption('--out <dir>', 'an existing directory for <name>.key (0600), <name>.crt and admin-ca.crt')
    .option('--json', 'print {"name", "role", "serial", "notAfter", "key", "cert", "issuer"}')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: AdminCertCreateOptions & { config?: string }) => {
      const config = readConfig(o.config);
      process.stdout.write(await withLedger(config, (ledger) => adminCertCreateCommand(config, ledger, processClock(), o, operatorName())));
    });
  cert
    .command('list')
    .description('every admin certificate with its role, serial and state')
    .option('--json', 'JSON instead of a table')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: { json?: boolean; config?: string }) => {
      process.stdout.write(await withLedger(readConfig(o.config), (ledger) => adminCertListCommand(ledger, o, processClock().now())));
    });
  cert
    .command('revoke <name>')
    .description('the admin API refuses the certificate from the next request on')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (name: string, o: { config?: string }) => {
      process.stdout.write(await withLedger(readConfig(o.config), (ledger) => adminCertRevokeCommand(ledger, processClock(), name, operatorName())));
    });
}
