#!/usr/bin/env node
import { Command } from 'commander';
import path from 'node:path';
import { initCa, loadCa, rotateIntermediate, rotateRoot, type CaOptions } from '../ca/ca-files.js';
import { readActiveGeneration } from '../ca/intermediate-generations.js';
import { caStatusCommand, rotateIntermediateReport, rotateRootReport } from './commands/ca.js';
import { nativeCryptoProvider, useCryptoProvider } from '../ca/crypto-provider.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { userInfo } from 'node:os';
import { systemClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite-ledger.js';
import { listCommand, showCommand, type ListOptions } from './commands/certs.js';
import { revokeCommand } from './commands/revoke.js';
import { normalizeSerial } from './commands/certs.js';
import { renewEarlyCommand, type RenewEarlyOptions } from './commands/renew-early.js';
import { accountsDeactivateCommand, accountsListCommand, accountsShowCommand } from './commands/accounts.js';
import { crlGenerateCommand, crlShowCommand } from './commands/crl.js';
import { caOptions, crlPublisher, ledgerFile, registrationAuthority, secretBox, startServer } from './serve.js';
import { eabCreateCommand, eabListCommand, eabRevokeCommand, type EabCreateOptions } from './commands/eab.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';

function readConfig(file: string | undefined): Config {
  return loadConfig(file ? { file } : {});
}

const program = new Command()
  .name('certmint')
  .description('Self-hosted ACME server (RFC 8555) and private certificate authority')
  .showHelpAfterError();

program
  .command('serve')
  .description('serve the ACME API (creates the CA in dataDir on first start)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: { config?: string }) => {
    const server = await startServer(readConfig(opts.config));
    const stop = () => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

const ca = program.command('ca').description('manage the certificate authority');
ca.command('init')
  .description('create the root and intermediate in <dataDir>/ca (refuses to overwrite an existing CA)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: { config?: string }) => {
    const options = caOptionsOf(opts.config);
    const authority = await initCa(options);
    process.stdout.write(`created a CA in ${options.dir}\n${authority.rootsPem}`);
  });

/** The CA options of the config, with the native WebCrypto provider installed. */
function caOptionsOf(file: string | undefined): CaOptions {
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  return caOptions(readConfig(file), crypto);
}

ca.command('rotate-intermediate')
  .description('a new intermediate under the same root signs new certificates (restart certmint serve after it)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: { config?: string }) => {
    const options = caOptionsOf(opts.config);
    process.stdout.write(rotateIntermediateReport((await rotateIntermediate(options)).ca, options.dir));
  });
ca.command('rotate-root')
  .description('a new root, cross-signed by the old one, and a new intermediate under it (restart certmint serve after it)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: { config?: string }) => {
    const options = caOptionsOf(opts.config);
    process.stdout.write(rotateRootReport((await rotateRoot(options)).ca, options.dir));
  });
ca.command('status')
  .description('every root and intermediate generation: subject, notAfter, and how many live certificates chain to it')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--json', 'JSON instead of a table')
  .action(async (opts: { config?: string; json?: boolean }) => {
    const config = readConfig(opts.config);
    process.stdout.write(await withAuthority(config, (ledger, authority) => caStatusCommand(authority, ledger, systemClock.now(), opts)));
  });

/** Admin commands work on an existing data dir only (safe while the server runs: SQLite WAL). */
function openLedger(config: Config): SqliteLedger {
  return new SqliteLedger({ file: ledgerFile(config), mustExist: true });
}

async function withLedger<T>(config: Config, fn: (ledger: SqliteLedger) => Promise<T>): Promise<T> {
  const ledger = openLedger(config);
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

const quietLog = { info: () => undefined, error: (o: object, m: string) => process.stderr.write(`${m}\n`) };

/** The ledger and the CA of an existing data dir (never creates either). */
async function withAuthority<T>(config: Config, fn: (ledger: SqliteLedger, ca: X509CertificateAuthority) => Promise<T>): Promise<T> {
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  return withLedger(config, async (ledger) => fn(ledger, await loadCa(caOptions(config, crypto))));
}

const certs = program.command('certs').description('the certificate inventory');
certs
  .command('list')
  .description('list certificates, soonest expiry first')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--expiring-within <duration>', 'valid certificates expiring within e.g. 7d, 12h')
  .option('--expired', 'only certificates past notAfter')
  .option('--revoked', 'only revoked certificates')
  .option('--identifier <name>', 'an exact name, or *.suffix for every name under it')
  .option('--account <id>', 'only certificates of this ACME account')
  .option('--limit <n>', 'at most this many rows', '1000')
  .option('--json', 'JSON instead of a table')
  .action(async (opts: ListOptions & { config?: string }) => {
    const out = await withLedger(readConfig(opts.config), (ledger) => listCommand(ledger, opts, systemClock.now()));
    process.stdout.write(out);
  });
certs
  .command('show <serial>')
  .description('one certificate with its audit trail')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--pem', 'print the certificate and its chain as PEM')
  .option('--json', 'JSON instead of text')
  .action(async (serial: string, opts: { config?: string; pem?: boolean; json?: boolean }) => {
    process.stdout.write(await withLedger(readConfig(opts.config), (ledger) => showCommand(ledger, serial, opts)));
  });
certs
  .command('renew-early [serial]')
  .description('ask ARI clients (RFC 9773) to renew a certificate, or --all, at their next check (audited)')
  .option('--all', 'every valid, unexpired certificate')
  .option('--explanation <url>', 'a page telling subscribers why (ARI explanationURL)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (serial: string | undefined, opts: RenewEarlyOptions & { config?: string }) => {
    const config = readConfig(opts.config);
    await withAuthority(config, async (ledger, ca) => {
      const ra = registrationAuthority(config, { ledger, ca, clock: systemClock, crypto: nativeCryptoProvider() });
      process.stdout.write(await renewEarlyCommand(ra, serial, opts, process.env.USER ?? userInfo().username));
    });
  });

program
  .command('revoke <serial>')
  .description('revoke a certificate (audited as the operator; the CRL is regenerated)')
  .requiredOption('--reason <reason>', 'unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (serial: string, opts: { config?: string; reason: string }) => {
    const config = readConfig(opts.config);
    await withAuthority(config, async (ledger, ca) => {
      const ra = registrationAuthority(config, { ledger, ca, clock: systemClock, crypto: nativeCryptoProvider() });
      process.stdout.write(await revokeCommand(ra, serial, opts.reason, process.env.USER ?? userInfo().username));
      // Publish the CRL of the generation that signed it now; a running server adopts the newer
      // CRL from the ledger within crl.checkInterval.
      const revoked = await ledger.getCertificate(normalizeSerial(serial));
      const generation = revoked?.issuerGeneration ?? ca.activeGeneration;
      process.stdout.write(await crlGenerateCommand(crlPublisher(config, ledger, ca, systemClock, quietLog), { generation }, ca.activeGeneration));
    });
  });

const accounts = program.command('accounts').description('ACME accounts');
accounts
  .command('list')
  .description('accounts, oldest first, with their certificate counts')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--limit <n>', 'at most this many rows', '1000')
  .option('--json', 'JSON instead of a table')
  .action(async (opts: { config?: string; json?: boolean; limit: string }) => {
    process.stdout.write(await withLedger(readConfig(opts.config), (ledger) => accountsListCommand(ledger, opts)));
  });
accounts
  .command('show <id>')
  .description('one account (id or account URL) with its audit trail')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--json', 'JSON instead of text')
  .action(async (id: string, opts: { config?: string; json?: boolean }) => {
    process.stdout.write(await withLedger(readConfig(opts.config), (ledger) => accountsShowCommand(ledger, id, opts)));
  });
accounts
  .command('deactivate <id>')
  .description('deactivate an account for good, and its pending authorizations (audited as the operator)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (id: string, opts: { config?: string }) => {
    const config = readConfig(opts.config);
    await withAuthority(config, async (ledger, ca) => {
      const ra = registrationAuthority(config, { ledger, ca, clock: systemClock, crypto: nativeCryptoProvider() });
      process.stdout.write(await accountsDeactivateCommand(ra, id, process.env.USER ?? userInfo().username));
    });
  });

const crl = program.command('crl').description('certificate revocation lists');
crl
  .command('generate')
  .description('sign and publish a new CRL now (files in <dataDir>/crl; a running server serves it within seconds)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--root [n]', "a root's CRL of intermediates (root 1, or root n after ca rotate-root) instead of the intermediate's CRL of leaves")
  .option('--generation <n>', 'the CRL of this intermediate generation (default: the active one)')
  .action(async (opts: { config?: string; root?: boolean | string; generation?: string }) => {
    const config = readConfig(opts.config);
    await withAuthority(config, async (ledger, ca) => {
      process.stdout.write(await crlGenerateCommand(crlPublisher(config, ledger, ca, systemClock, quietLog), opts, ca.activeGeneration));
    });
  });
crl
  .command('show')
  .description('the CRL currently published')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--root [n]', "a root's CRL of intermediates (root 1, or root n after ca rotate-root)")
  .option('--generation <n>', 'the CRL of this intermediate generation (default: the active one)')
  .option('--pem', 'print the CRL as PEM')
  .action(async (opts: { config?: string; root?: boolean | string; generation?: string; pem?: boolean }) => {
    const config = readConfig(opts.config);
    const active = await readActiveGeneration(path.join(config.dataDir, 'ca'));
    process.stdout.write(await withLedger(config, (ledger) => crlShowCommand(ledger, opts, active)));
  });

/** An RA over an existing data dir, with the secrets box, for the admin commands. */
async function withRa<T>(config: Config, fn: (ra: RegistrationAuthority) => Promise<T>): Promise<T> {
  return withAuthority(config, async (ledger, ca) =>
    fn(registrationAuthority(config, { ledger, ca, clock: systemClock, crypto: nativeCryptoProvider(), secrets: await secretBox(config) })),
  );
}

const operatorName = (): string => process.env.USER ?? userInfo().username;

const eab = program.command('eab').description('external account binding keys (RFC 8555 §7.3.4)');
eab
  .command('create')
  .description('a new key: prints its key id and HMAC key (shown once)')
  .requiredOption('--label <name>', 'what the key is for (team, cluster, …)')
  .option('--policy <name>', 'a policy from the config; accounts bound with this key follow it')
  .option('--expires <duration>', 'unusable for new bindings after e.g. 30d')
  .option('--reusable', 'may bind several accounts (default: one)')
  .option('--json', 'JSON instead of text')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: EabCreateOptions & { config?: string }) => {
    process.stdout.write(await withRa(readConfig(opts.config), (ra) => eabCreateCommand(ra, opts, operatorName())));
  });
eab
  .command('list')
  .description('every key with its state (never the HMAC keys)')
  .option('--json', 'JSON instead of a table')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: { config?: string; json?: boolean }) => {
    process.stdout.write(await withRa(readConfig(opts.config), (ra) => eabListCommand(ra, opts, systemClock.now())));
  });
eab
  .command('revoke <kid>')
  .description('no new account can bind with the key (accounts bound already keep working)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (kid: string, opts: { config?: string }) => {
    process.stdout.write(await withRa(readConfig(opts.config), (ra) => eabRevokeCommand(ra, kid, operatorName())));
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  // Errors people can act on (config, CA files) get one line; anything else its stack.
  const known =
    e instanceof ConfigError ||
    (e instanceof Error && ['CaError', 'SchemaError', 'LedgerMissingError', 'UsageError'].includes(e.name));
  process.stderr.write(`certmint: ${known ? (e as Error).message : ((e as Error).stack ?? String(e))}\n`);
  process.exit(1);
});
