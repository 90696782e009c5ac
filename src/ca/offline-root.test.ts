import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { CrlPublisher } from '../crl/crl-publisher.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { CaCrlCheck } from '../notify/ca-crl-check.js';
import { initCa, loadCa, loadOrInitCa, type CaOptions } from './ca-files.js';
import { rotateIntermediate, rotateRoot } from './rotation.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { newSerialHex } from './serial.js';

// ca.offlineRoot: the root key kept off the machine. The CA loads with the root certificates alone,
// never signs a root CRL itself, serves the one signed where the key is (the ledger's newest), and
// says what to bring back when a rotation needs the key. Real files, a real SQLite ledger, openssl.
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const policy = { validityMs: DAY, refreshMs: HOUR, rootValidityMs: 30 * DAY, checkIntervalMs: 60_000 };

let base: string;
let clock: ManualClock;
let o: CaOptions;
let rootKey: string;
let away: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-offline-root-'));
  clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
  o = { dir: join(base, 'ca'), name: 'offline test', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/intermediate.der', crypto: nativeCryptoProvider(), clock };
  rootKey = join(o.dir, 'root.key.pem');
  away = join(base, 'root.key.pem.offline');
});
afterEach(async () => rm(base, { recursive: true, force: true }));

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' });
}

describe('ca.offlineRoot', () => {
  it('a first start creates the root key; with it moved away the CA loads, issues, and holds no root key', async () => {
    const { created } = await loadOrInitCa({ ...o, offlineRoot: true });
    expect(created).toBe(true);
    await rename(rootKey, away);

    const { ca, created: again } = await loadOrInitCa({ ...o, offlineRoot: true });
    expect(again).toBe(false);
    expect(ca.roots).toMatchObject([{ generation: 1, keyHeld: false, keyOffline: true }]);
    const leaf = await ca.issueLeaf({
      spki: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
      identifiers: [{ type: 'dns', value: 'leaf.offline.test' }],
      notBefore: clock.now(),
      notAfter: new Date(clock.now().getTime() + DAY),
      serialHex: newSerialHex(),
    });
    const leafPem = join(base, 'leaf.pem');
    await writeFile(leafPem, `-----BEGIN CERTIFICATE-----\n${Buffer.from(leaf.der).toString('base64')}\n-----END CERTIFICATE-----\n`);
    await writeFile(join(base, 'chain.pem'), ca.chainPem);
    expect(openssl(['verify', '-attime', String(clock.now().getTime() / 1000 + 60), '-CAfile', join(o.dir, 'root.pem'), '-untrusted', join(base, 'chain.pem'), leafPem])).toContain(': OK');
    await expect(ca.signIntermediateCrl({ crlNumber: 1n, thisUpdate: clock.now(), nextUpdate: clock.now(), entries: [] })).rejects.toThrow(
      /root 1's key is kept offline \(ca\.offlineRoot\): its CRL is signed by certmint crl generate --root/,
    );
  });

  it('without ca.offlineRoot, a missing root key is the "incomplete" error, which names the setting', async () => {
    await initCa(o);
    await rename(rootKey, away);
    await expect(loadOrInitCa(o)).rejects.toThrow(`the CA in ${o.dir} is incomplete: ${rootKey} is missing`);
    await expect(loadOrInitCa(o)).rejects.toThrow(/If the root key is kept off this machine on purpose, set ca\.offlineRoot: true \(CERTMINT_CA_OFFLINE_ROOT=true\)/);
    // A command that loads the whole CA says the same.
    await expect(loadCa(o)).rejects.toThrow(/set ca\.offlineRoot: true \(CERTMINT_CA_OFFLINE_ROOT=true\) and bring it back for those commands/);
  });

  it('rotations without the root key fail naming the file to bring back, and change nothing; with it back they work', async () => {
    await initCa(o);
    await rename(rootKey, away);
    for (const [rotate, action] of [
      [rotateIntermediate, 'rotate the intermediate'],
      [rotateRoot, 'rotate the root'],
    ] as const) {
      for (const offlineRoot of [true, false]) {
        await expect(rotate({ ...o, offlineRoot })).rejects.toThrow(
          `cannot ${action}: it needs the private key of the root CA, which cannot be loaded here (`,
        );
        await expect(rotate({ ...o, offlineRoot })).rejects.toThrow(`Bring back the file ${rootKey} for this command`);
      }
    }
    expect((await loadCa({ ...o, offlineRoot: true })).activeGeneration).toBe(1);
    await rename(away, rootKey);
    const { generation } = await rotateIntermediate({ ...o, offlineRoot: true });
    expect(generation).toBe(2);
  });

  it('the server serves the newest root CRL from the ledger, signs none, and the stale check tells of it', async () => {
    const ledger = new SqliteLedger({ file: join(base, 'ledger.sqlite3'), now: () => clock.now().getTime() });
    try {
      await initCa(o);
      // Where the key is (certmint crl generate --root): the full CA signs the root's CRL.
      const held = new CrlPublisher({ ledger, ca: await loadCa(o), clock, dir: join(base, 'crl'), policy, log: silent });
      const signed = await held.generate('root');

      await rename(rootKey, away);
      const ca = await loadCa({ ...o, offlineRoot: true });
      const served = new CrlPublisher({ ledger, ca, clock, dir: join(base, 'served-crl'), policy, log: silent });
      await served.check();
      expect(served.current('root')?.crlNumber).toBe(signed.crlNumber);
      // Past the half-life at which a held root renews its CRL: nothing signed here.
      clock.advance(16 * DAY);
      await served.check();
      expect((await ledger.crlState('root', clock.now())).crlNumber).toBe(signed.crlNumber);
      expect(served.current('root')?.crlNumber).toBe(signed.crlNumber);

      // Stale: crl.stale names the root's CRL, as for a held root.
      clock.advance(15 * DAY);
      const check = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: DAY });
      expect(await check.checkOnce()).toBe(2); // the intermediate's (unrenewed here) and the root's
      const db = new Database(join(base, 'ledger.sqlite3'), { readonly: true });
      const stale = db.prepare(`SELECT subject FROM outbox_events WHERE type = 'crl.stale' ORDER BY subject`).all() as { subject: string }[];
      db.close();
      expect(stale.map((e) => e.subject)).toContain(`crl:root:${signed.crlNumber}`);
      // ca.expiring names the rotation, and that it needs the key brought back.
      await new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: 20 * 365 * DAY }).checkOnce();
      const db2 = new Database(join(base, 'ledger.sqlite3'), { readonly: true });
      const expiring = db2.prepare(`SELECT payload FROM outbox_events WHERE type = 'ca.expiring' ORDER BY subject`).all() as { payload: string }[];
      db2.close();
      expect(expiring.map((e) => (JSON.parse(e.payload) as { run: string }).run)).toEqual([
        'certmint ca rotate-intermediate (with the root key brought back: ca.offlineRoot)',
        'certmint ca rotate-root (with the root key brought back: ca.offlineRoot)',
      ]);

      // The key brought back for one command signs the next; the server adopts it at its next check.
      const next = await held.generate('root');
      expect(next.crlNumber).toBeGreaterThan(signed.crlNumber);
      await served.check();
      expect(served.current('root')?.crlNumber).toBe(next.crlNumber);
    } finally {
      await ledger.close();
    }
  });
});
