import { userInfo } from 'node:os';
import { loadCa, type CaOptions } from '../ca/ca-files.js';
import { nativeCryptoProvider, useCryptoProvider } from '../ca/crypto-provider.js';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import { loadConfig, type Config } from '../config/config.js';
import { processClock } from './fake-clock.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import { withCaKeys } from './ca-key-source.js';
import { caOptions, ledgerSettings, registrationAuthority, secretBox } from './composition.js';

// What the admin commands share: the config, the ledger and CA of an existing data dir, and who runs them.

export function readConfig(file: string | undefined): Config {
  return loadConfig(file ? { file } : {});
}

/** Who the audit log names for an admin command ("operator:<name>" is built by the caller). */
export const operatorName = (): string => process.env.USER ?? userInfo().username;

/** The CA options of the config, with the native WebCrypto provider installed. */
export function caOptionsOf(config: Config): CaOptions {
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  return { ...caOptions(config, crypto), clock: processClock() };
}

/**
 * Admin commands work on the ledger the config names (safe while servers run: SQLite WAL, or
 * PostgreSQL); an SQLite ledger must exist already unless `create` (ca init, ca import).
 */
export async function withLedger<T>(config: Config, fn: (ledger: CertificateLedger) => Promise<T>, create = false): Promise<T> {
  const clock = processClock();
  const { ledger } = await openLedger({ ...ledgerSettings(config), mustExist: !create, now: () => clock.now().getTime() });
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

/** The ledger and the CA of an existing data dir (never creates either). */
export async function withAuthority<T>(config: Config, fn: (ledger: CertificateLedger, ca: X509CertificateAuthority) => Promise<T>): Promise<T> {
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  return withLedger(config, (ledger) => withCaKeys(config, { ...caOptions(config, crypto), clock: processClock() }, async (o) => fn(ledger, await loadCa(o))));
}

/** An RA over an existing data dir, with the secrets box, for the admin commands. */
export async function withRa<T>(config: Config, fn: (ra: RegistrationAuthority) => Promise<T>): Promise<T> {
  return withAuthority(config, async (ledger, ca) =>
    fn(registrationAuthority(config, { ledger, ca, clock: processClock(), crypto: nativeCryptoProvider(), secrets: await secretBox(config) })),
  );
}
