import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initCa, type CaOptions } from '../ca/ca-files.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import { systemClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { caIdentityOf, loadCaOfLedger } from './ca-identity.js';

let dir: string;
let ledger: SqliteLedger;
const options = (caDir: string): CaOptions & { clock: typeof systemClock } => ({
  dir: path.join(dir, caDir),
  name: 'identity test',
  crlUrl: 'https://ca.test/crl',
  caIssuersUrl: 'https://ca.test/intermediate.der',
  crypto: nativeCryptoProvider(),
  clock: systemClock,
});

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-ca-identity-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the CA a ledger belongs to', () => {
  it('the first start creates the CA and records it; later starts with the same CA files load it', async () => {
    expect(await ledger.caIdentity()).toBeUndefined();
    const first = await loadCaOfLedger(ledger, options('ca'));
    expect(first.created).toBe(true);
    expect(await ledger.caIdentity()).toBe(caIdentityOf(first.ca));
    expect(caIdentityOf(first.ca)).toMatch(/^[0-9a-f]{64}$/);
    const again = await loadCaOfLedger(ledger, options('ca'));
    expect(again.created).toBe(false);
    expect(caIdentityOf(again.ca)).toBe(caIdentityOf(first.ca));
  });

  it('an instance with no CA files creates none for a ledger that has a CA', async () => {
    const first = await loadCaOfLedger(ledger, options('ca'));
    await expect(loadCaOfLedger(ledger, options('empty-ca'))).rejects.toThrow(
      `there is no CA in ${path.join(dir, 'empty-ca')}, but the ledger belongs to the CA whose root has SHA-256 ${caIdentityOf(first.ca)}`,
    );
    expect(readdirSync(dir)).not.toContain('empty-ca');
  });

  it('an instance with another CA refuses to start, naming both roots; the ledger keeps its CA', async () => {
    const first = await loadCaOfLedger(ledger, options('ca'));
    const other = await initCa(options('other-ca'));
    await expect(loadCaOfLedger(ledger, options('other-ca'))).rejects.toThrow(
      `the CA in ${path.join(dir, 'other-ca')} (root SHA-256 ${caIdentityOf(other)}) is not the CA of this ledger (root SHA-256 ${caIdentityOf(first.ca)})`,
    );
    expect(await ledger.caIdentity()).toBe(caIdentityOf(first.ca));
  });

  it('the first CA recorded wins when two instances record at once', async () => {
    const a = await initCa(options('a'));
    const b = await initCa(options('b'));
    const [ra, rb] = await Promise.all([ledger.recordCaIdentity(caIdentityOf(a), new Date()), ledger.recordCaIdentity(caIdentityOf(b), new Date())]);
    expect(ra).toBe(rb);
    expect([caIdentityOf(a), caIdentityOf(b)]).toContain(ra);
  });
});
