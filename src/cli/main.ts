#!/usr/bin/env node
import { Command } from 'commander';
import { initCa } from '../ca/ca-files.js';
import { nativeCryptoProvider, useCryptoProvider } from '../ca/crypto-provider.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { caOptions, startServer } from './serve.js';

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
    const config = readConfig(opts.config);
    const crypto = nativeCryptoProvider();
    useCryptoProvider(crypto);
    const authority = await initCa(caOptions(config, crypto));
    process.stdout.write(`created a CA in ${caOptions(config, crypto).dir}\n${authority.rootsPem}`);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  // Errors people can act on (config, CA files) get one line; anything else its stack.
  const known = e instanceof ConfigError || (e instanceof Error && ['CaError', 'SchemaError'].includes(e.name));
  process.stderr.write(`certmint: ${known ? (e as Error).message : ((e as Error).stack ?? String(e))}\n`);
  process.exit(1);
});
