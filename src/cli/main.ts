#!/usr/bin/env node
import { Command } from 'commander';
import path from 'node:path';
import { readActiveGeneration } from '../ca/intermediate-generations.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import { ConfigError } from '../config/config.js';
import { processClock } from './fake-clock.js';
import { certmintVersion } from '../core/version.js';
import { listCommand, showCommand, type ListOptions } from './commands/certs.js';
import { revokeCommand, revokeSubordinateCommand } from './commands/revoke.js';
import { normalizeSerial } from './commands/certs.js';
import { renewEarlyCommand, type RenewEarlyOptions } from './commands/renew-early.js';
import { accountsDeactivateCommand, accountsListCommand, accountsPersistRecordCommand, accountsShowCommand } from './commands/accounts.js';
import { AcmeUrls } from '../acme/urls.js';
import { crlGenerateCommand, crlShowCommand } from './commands/crl.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerLedgerCommands } from './commands/ledger-copy.js';
import { registerNotificationCommands } from './commands/notifications.js';
import { registerCaCommands } from './commands/ca-commands.js';
import { crlPublisher, registrationAuthority } from './composition.js';
import { serve } from './serve-workers.js';
import { auditCommand, type AuditOptions } from './commands/audit.js';
import { registerAdminCommands } from './commands/admin-tokens.js';
import { eabCreateCommand, eabListCommand, eabRevokeCommand, type EabCreateOptions } from './commands/eab.js';
import { listingOptions, type ListingOptions, type ListingOutput } from './commands/listing.js';
import { operatorName, readConfig, withAuthority, withLedger, withRa } from './admin.js';

const program = new Command()
  .name('certmint')
  .description('Self-hosted ACME server (RFC 8555) and private certificate authority')
  .version(certmintVersion(), '-V, --version', 'print the version')
  .showHelpAfterError();

program
  .command('serve')
  .description('serve the ACME API (creates the CA in dataDir on first start)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: { config?: string }) => {
    await serve(readConfig(opts.config), processClock());
  });

registerCaCommands(program);
// An unreadable CERTMINT_FAKE_CLOCK stops every command before it does anything (one line, below).
program.hook('preAction', () => {
  processClock();
});

/** A list's pages on stdout, each awaited so a slow reader (a pipe to jq) holds the ledger reads back. */
const stdoutListing: ListingOutput = {
  write: (text) => new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve()))),
  notice: (text) => process.stderr.write(text),
};
// A reader that stops early (`certmint certs list --all --jsonl | head`) closes the pipe: the
// pending write fails, the list stops and closes its ledger, and the command ends quietly below.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

const quietLog = { info: () => undefined, warn: (o: object, m: string) => process.stderr.write(`${m}\n`), error: (o: object, m: string) => process.stderr.write(`${m}\n`) };


const certs = program.command('certs').description('the certificate inventory');
listingOptions(
  certs
    .command('list')
    .description('list certificates, soonest expiry first (--order desc: latest first)')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .option('--expiring-within <duration>', 'valid certificates expiring within e.g. 7d, 12h')
    .option('--expired', 'only certificates past notAfter')
    .option('--revoked', 'only revoked certificates')
    .option('--overdue', 'renewal-overdue: valid, unexpired, past the end of their ARI window and not replaced by a newer certificate')
    .option('--unrenewed-expiring-within <duration>', 'renewal-overdue and expiring within e.g. 3d, 12h')
    .option('--identifier <name>', 'an exact name, or *.suffix for every name under it')
    .option('--account <id>', 'only certificates of this ACME account')
    .option('--profile <name>', 'only certificates issued under this profile (default: also those whose order named none)')
    .option('--order <asc|desc>', 'asc: soonest expiry first (the default); desc: latest first'),
  'certificates',
).action(async (opts: ListOptions & { config?: string }) => {
  const config = readConfig(opts.config);
  await withLedger(config, (ledger) => listCommand(ledger, opts, processClock().now(), stdoutListing, Object.keys(config.profiles)));
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
      const ra = registrationAuthority(config, { ledger, ca, clock: processClock(), crypto: nativeCryptoProvider() });
      process.stdout.write(await renewEarlyCommand(ra, serial, opts, operatorName()));
    });
  });

program
  .command('revoke <serial>')
  .description("revoke a certificate or a subordinate CA (audited as the operator; the CRL, or the root's CRL, is regenerated)")
  .requiredOption('--reason <reason>', 'unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (serial: string, opts: { config?: string; reason: string }) => {
    const config = readConfig(opts.config);
    await withAuthority(config, async (ledger, ca) => {
      const subordinate = await ledger.subordinates.getSubordinate(normalizeSerial(serial));
      if (subordinate) {
        const root = ca.roots.find((r) => r.generation === subordinate.rootGeneration);
        const rootKey = root?.keyHeld ? 'held' : root?.keyOffline || config.ca.offlineRoot ? 'offline' : 'external';
        const signRootCrl = (n: number) => crlGenerateCommand(crlPublisher(config, ledger, ca, processClock(), quietLog), { root: n }, ca.activeGeneration);
        process.stdout.write(await revokeSubordinateCommand(ledger, subordinate, opts.reason, operatorName(), { now: processClock().now(), rootKey, signRootCrl }));
        return;
      }
      const ra = registrationAuthority(config, { ledger, ca, clock: processClock(), crypto: nativeCryptoProvider() });
      process.stdout.write(await revokeCommand(ra, serial, opts.reason, operatorName()));
      // Publish the CRL that lists it now (its generation's, or its partition's with crl.partitions);
      // a running server adopts the newer CRL from the ledger within crl.checkInterval.
      const revoked = await ledger.getCertificate(normalizeSerial(serial));
      const generation = revoked?.issuerGeneration ?? ca.activeGeneration;
      const crlOptions = { generation, ...(revoked?.crlPartition !== undefined ? { partition: revoked.crlPartition } : {}) };
      process.stdout.write(await crlGenerateCommand(crlPublisher(config, ledger, ca, processClock(), quietLog), crlOptions, ca.activeGeneration));
    });
  });

const accounts = program.command('accounts').description('ACME accounts');
listingOptions(
  accounts
    .command('list')
    .description('accounts, oldest first, with their certificate counts')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)'),
  'accounts',
).action(async (opts: ListingOptions & { config?: string }) => {
  await withLedger(readConfig(opts.config), (ledger) => accountsListCommand(ledger, opts, stdoutListing));
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
      const ra = registrationAuthority(config, { ledger, ca, clock: processClock(), crypto: nativeCryptoProvider() });
      process.stdout.write(await accountsDeactivateCommand(ra, id, operatorName()));
    });
  });

accounts
  .command('persist-record <id> <name>')
  .description('the dns-persist-01 TXT record that lets an account (id or account URL) get certificates for a name (*.name: with --wildcard)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--wildcard', 'policy=wildcard: also *.name and every name under it')
  .option('--json', 'JSON instead of a zone-file line')
  .action(async (id: string, name: string, opts: { config?: string; wildcard?: boolean; json?: boolean }) => {
    const config = readConfig(opts.config);
    const urls = new AcmeUrls(config.server.baseUrl);
    const server = { issuerDomainNames: config.validation.dnsPersist.issuerDomainNames, accountUrl: (a: string) => urls.account(a) };
    process.stdout.write(await withLedger(config, (ledger) => accountsPersistRecordCommand(ledger, server, id, name, opts)));
  });

const crl = program.command('crl').description('certificate revocation lists');
crl
  .command('generate')
  .description('sign and publish a new CRL now (files in <dataDir>/crl; a running server serves it within seconds)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--root [n]', "a root's CRL of intermediates (root 1, or root n after ca rotate-root) instead of the intermediate's CRL of leaves")
  .option('--generation <n>', 'the CRL of this intermediate generation (default: the active one)')
  .option('--partition <p>', 'one CRL partition of that generation (crl.partitions > 1) instead of its whole CRL')
  .action(async (opts: { config?: string; root?: boolean | string; generation?: string; partition?: string }) => {
    const read = readConfig(opts.config);
    // A root's CRL is signed here, by its key: the one command besides the rotations that loads the
    // root key of a CA kept with ca.offlineRoot (brought back for it).
    const config = opts.root ? { ...read, ca: { ...read.ca, offlineRoot: false } } : read;
    await withAuthority(config, async (ledger, ca) => {
      process.stdout.write(await crlGenerateCommand(crlPublisher(config, ledger, ca, processClock(), quietLog), opts, ca.activeGeneration));
    });
  });
crl
  .command('show')
  .description('the CRL currently published')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .option('--root [n]', "a root's CRL of intermediates (root 1, or root n after ca rotate-root)")
  .option('--generation <n>', 'the CRL of this intermediate generation (default: the active one)')
  .option('--partition <p>', 'one CRL partition of that generation (crl.partitions > 1) instead of its whole CRL')
  .option('--pem', 'print the CRL as PEM')
  .action(async (opts: { config?: string; root?: boolean | string; generation?: string; partition?: string; pem?: boolean }) => {
    const config = readConfig(opts.config);
    const active = await readActiveGeneration(path.join(config.dataDir, 'ca'));
    process.stdout.write(await withLedger(config, (ledger) => crlShowCommand(ledger, opts, active, processClock())));
  });



listingOptions(
  program
    .command('audit')
    .description('the audit log (accounts, issuance, revocation, EAB keys, CA changes), oldest first')
    .option('--since <when>', 'from a date (2026-11-01, 2026-11-01T08:00:00Z) or a duration back from now (24h, 7d)')
    .option('--until <when>', 'before a date or a duration back from now')
    .option('--action <name>', 'only this action (issue, revoke, account-create, eab-bind, ca-rotate-root, …)')
    .option('--subject <s>', 'only entries about a serial, account:<id> or eab:<kid>'),
  'entries',
)
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (opts: AuditOptions & { config?: string }) => {
    await withLedger(readConfig(opts.config), (ledger) => auditCommand(ledger, opts, processClock().now(), stdoutListing));
  });

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
    process.stdout.write(await withRa(readConfig(opts.config), (ra) => eabListCommand(ra, opts, processClock().now())));
  });
eab
  .command('revoke <kid>')
  .description('no new account can bind with the key (accounts bound already keep working)')
  .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
  .action(async (kid: string, opts: { config?: string }) => {
    process.stdout.write(await withRa(readConfig(opts.config), (ra) => eabRevokeCommand(ra, kid, operatorName())));
  });

registerBackupCommands(program);
registerAdminCommands(program);
registerLedgerCommands(program);
registerNotificationCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
  // Errors people can act on (config, CA files) get one line; anything else its stack.
  const known =
    e instanceof ConfigError ||
    (e instanceof Error && ['CaError', 'SchemaError', 'LedgerMissingError', 'LedgerConnectionError', 'UsageError'].includes(e.name)) ||
    // A system call that failed (mkdir of dataDir, listen on a taken port, a host name that does
    // not resolve): Node's message names the call, the path or address and the reason.
    (e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string');
  process.stderr.write(`certmint: ${known ? (e as Error).message : ((e as Error).stack ?? String(e))}\n`);
  process.exit(1);
});
