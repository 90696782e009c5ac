import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CaError } from '../../ca/ca-file-io.js';
import { createIntermediateCsr } from '../../ca/ca-csr.js';
import { initCa } from '../../ca/ca-files.js';
import { rotateIntermediate, rotateRoot } from '../../ca/rotation.js';
import { importCa } from '../../ca/ca-import.js';
import { KEY_PASSPHRASE_SETTINGS } from '../../ca/key-passphrase.js';
import type { X509CertificateAuthority } from '../../ca/x509-authority.js';
import type { Config } from '../../config/config.js';
import { writeFileAtomically } from '../../core/atomic-file.js';
import { processClock } from '../fake-clock.js';
import { caOptionsOf, operatorName, readConfig, withAuthority, withLedger } from '../admin.js';
import { auditCaEvent, type CaEvent } from '../ca-audit.js';
import { withCaKeys } from '../ca-key-source.js';
import { configuredNameConstraints } from '../composition.js';
import { registerCaCheck } from './ca-check.js';
import { registerSubordinateCommands } from './subordinates.js';
import { caCsrReport, caImportReport, caStatusCommand, rotateIntermediateReport, rotateRootReport } from './ca.js';

/** `certmint ca …` (main.ts registers them with this one call). Every change to the CA is audited. */
export function registerCaCommands(program: Command): void {
  const ca = program.command('ca').description('manage the certificate authority');
  ca.command('init')
    .description('create the root and intermediate in <dataDir>/ca (refuses to overwrite an existing CA)')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .option('--encrypt', 'require the keys to be encrypted (with ca.keyPassphraseFile or CERTMINT_CA_KEY_PASSPHRASE; they are whenever one is set)')
    .action(async (opts: { config?: string; encrypt?: boolean }) => {
      const config = readConfig(opts.config);
      const options = caOptionsOf(config);
      if (opts.encrypt && !options.keyPassphrase) {
        throw new CaError(`--encrypt needs a passphrase: set ${KEY_PASSPHRASE_SETTINGS}`);
      }
      const authority = await withCaKeys(config, options, initCa);
      await audit(config, 'ca-init', authority);
      process.stdout.write(`created a CA in ${options.dir}\n${authority.rootsPem}`);
    });

  ca.command('csr')
    .description('a new intermediate key (kept in <dataDir>/ca until ca import) and its PKCS#10 request, for an external root CA to sign')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .option('--out <file>', 'write the request there instead of to stdout')
    .action(async (opts: { config?: string; out?: string }) => {
      const config = readConfig(opts.config);
      const csr = await withCaKeys(config, caOptionsOf(config), createIntermediateCsr);
      if (opts.out) await writeFileAtomically(opts.out, csr.csrPem, { mode: 0o644 });
      else process.stdout.write(csr.csrPem);
      process.stderr.write(caCsrReport(csr, opts.out));
    });

  ca.command('import')
    .description('run under an existing root: the intermediate certmint signs with, its key (or the pending key of ca csr) and the chain to the root')
    .requiredOption('--cert <file>', 'the intermediate CA certificate (PEM; issuers may follow it)')
    .option('--key <file>', 'its private key: PKCS#8 (plain or encrypted), EC PRIVATE KEY or RSA PRIVATE KEY PEM; default: the pending key of ca csr')
    .option('--chain <file>', 'the issuers up to and including the self-signed root (PEM)')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { config?: string; cert: string; key?: string; chain?: string }) => {
      const config = readConfig(opts.config);
      const options = caOptionsOf(config);
      const input = (file: string) => ({ file, pem: readInputFile(file) });
      let keyOnToken = false;
      const result = await withCaKeys(config, options, (withKeys) => {
        keyOnToken = withKeys.keyProvider?.keyIsFile?.('intermediate') === false;
        return importCa(withKeys, {
          cert: input(opts.cert),
          ...(opts.key ? { key: input(opts.key) } : {}),
          ...(opts.chain ? { chain: input(opts.chain) } : {}),
        });
      });
      await audit(config, 'ca-import', result.ca);
      process.stdout.write(caImportReport(result, options.dir, opts.key, keyOnToken));
    });

  ca.command('rotate-intermediate')
    .description('a new intermediate under the same root signs new certificates (restart certmint serve after it)')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { config?: string }) => {
      const config = readConfig(opts.config);
      const options = caOptionsOf(config);
      const { ca: rotated } = await withCaKeys(config, options, rotateIntermediate);
      await audit(config, 'ca-rotate-intermediate', rotated);
      process.stdout.write(rotateIntermediateReport(rotated, options.dir));
    });

  ca.command('rotate-root')
    .description('a new root, cross-signed by the old one, and a new intermediate under it (restart certmint serve after it)')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { config?: string }) => {
      const config = readConfig(opts.config);
      const options = caOptionsOf(config);
      const { ca: rotated } = await withCaKeys(config, options, rotateRoot);
      await audit(config, 'ca-rotate-root', rotated);
      process.stdout.write(rotateRootReport(rotated, options.dir));
    });

  ca.command('status')
    .description('every root and intermediate generation: subject, notAfter, and how many live certificates chain to it')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .option('--json', 'JSON instead of a table')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const config = readConfig(opts.config);
      process.stdout.write(await withAuthority(config, (ledger, authority) => caStatusCommand(authority, ledger, processClock().now(), { ...opts, configuredConstraints: configuredNameConstraints(config) })));
    });

  registerCaCheck(ca);
  registerSubordinateCommands(ca);
}

/** The CA files are in place; the ledger (created if this is a new data dir) records who did it. */
function audit(config: Config, event: CaEvent, ca: X509CertificateAuthority): Promise<void> {
  return withLedger(config, (ledger) => auditCaEvent(ledger, event, ca, `operator:${operatorName()}`, processClock().now()), true);
}

/** A file named on the command line; a missing one is a one-line error. */
function readInputFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CaError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
