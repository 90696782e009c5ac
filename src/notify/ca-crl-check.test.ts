import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initCa, loadCa, type CaOptions } from '../ca/ca-files.js';
import { rotateIntermediate } from '../ca/rotation.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import { ManualClock } from '../core/clock.js';
import { CrlPublisher } from '../crl/crl-publisher.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { CaCrlCheck } from './ca-crl-check.js';
import { RenewalRiskCheck } from './renewal-risk-check.js';
import { loadWebhooks } from './secrets.js';
import { WebhookDeliverer } from './webhook-deliverer.js';
import { slackText } from './webhook-request.js';

// ca.expiring and crl.stale: a real CA in files, its CRLs published by the real publisher into a
// real SQLite ledger, the events delivered by the real deliverer to a real receiver on 127.0.0.1;
// time is a ManualClock's.
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SECRET = 'receiver-secret';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let dir: string;
let clock: ManualClock;
let options: CaOptions;
let ledger: SqliteLedger;
let receiver: WebhookReceiver;
let deliverer: WebhookDeliverer;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-ca-crl-check-'));
  clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
  options = { dir: path.join(dir, 'ca'), name: 'check test', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/intermediate.der', crypto: nativeCryptoProvider(), clock };
  await initCa(options);
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3'), now: () => clock.now().getTime() });
  receiver = new WebhookReceiver(SECRET);
  await receiver.listen();
  writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
  deliverer = new WebhookDeliverer({
    ledger: ledger.outbox,
    webhooks: loadWebhooks([{ name: 'pki', url: receiver.url, events: ['ca.expiring', 'crl.stale'], secretFile: path.join(dir, 'secret'), format: 'json' }]),
    settings: { timeoutMs: 2000, maxInFlight: 4, maxAttempts: 5, backoffBaseMs: 5, backoffMaxMs: 40 },
    clock,
    source: 'https://ca.example.internal',
    log: { warn: () => undefined },
  });
  await deliverer.start();
});

afterEach(async () => {
  await deliverer.stop();
  await receiver.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const ofType = (type: string) => receiver.received.filter((r) => r.json.type === type);

describe('CA and CRL check', () => {
  it('tells the webhook once per stale CRL, and again when the next CRL goes stale', async () => {
    const ca = await loadCa(options);
    const publisher = new CrlPublisher({
      ledger,
      ca,
      clock,
      dir: path.join(dir, 'crl'),
      policy: { validityMs: DAY, refreshMs: HOUR, rootValidityMs: 30 * DAY, checkIntervalMs: 60_000 },
      log: silent,
    });
    await publisher.check();
    const check = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: 30 * DAY });
    expect(await check.checkOnce()).toBe(0);

    // No process publishes for a day and an hour: the intermediate's CRL (valid a day) is stale, the root's (30 days) not.
    const first = await ledger.crlState('intermediate', clock.now());
    clock.advance(25 * HOUR);
    expect(await check.checkOnce()).toBe(1);
    expect(await check.checkOnce()).toBe(0);
    // Another instance's check at once writes nothing more.
    const other = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: 30 * DAY });
    expect(await Promise.all([check.checkOnce(), other.checkOnce()])).toEqual([0, 0]);
    await vi.waitFor(() => expect(ofType('crl.stale')).toHaveLength(1), { timeout: 10_000 });
    const stale = ofType('crl.stale')[0]!;
    expect(stale.signatureValid).toBe(true);
    expect(stale.json).toMatchObject({
      type: 'crl.stale',
      subject: `crl:intermediate:${first.crlNumber}`,
      data: {
        issuer: 'intermediate',
        role: 'intermediate',
        generation: 1,
        crlNumber: String(first.crlNumber),
        thisUpdate: first.thisUpdate!.toISOString(),
        nextUpdate: first.nextUpdate!.toISOString(),
        staleForSeconds: 3600,
      },
    });

    // Published again: fresh, nothing raised; that CRL going stale in turn is a new episode.
    await publisher.check();
    expect(await check.checkOnce()).toBe(0);
    clock.advance(25 * HOUR);
    expect(await check.checkOnce()).toBe(1);
    await vi.waitFor(() => expect(ofType('crl.stale')).toHaveLength(2), { timeout: 10_000 });
    expect(ofType('crl.stale')[1]!.json.subject).toBe(`crl:intermediate:${first.crlNumber + 1n}`);
    expect(await check.checkOnce()).toBe(0);
    expect(ofType('ca.expiring')).toEqual([]);
  });

  it('a retired intermediate\'s last CRL going stale is no news; the active one\'s and the root\'s are', async () => {
    const policy = { validityMs: DAY, refreshMs: HOUR, rootValidityMs: 30 * DAY, checkIntervalMs: 60_000 };
    await new CrlPublisher({ ledger, ca: await loadCa(options), clock, dir: path.join(dir, 'crl'), policy, log: silent }).check();
    // Generation 1 signed no leaf: once rotated away its CRL is served but no longer renewed.
    await rotateIntermediate(options);
    const ca = await loadCa(options);
    await new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl'), policy, log: silent }).check();
    const check = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: 30 * DAY });
    clock.advance(25 * HOUR);
    expect(await check.checkOnce()).toBe(1);
    const active = await ledger.crlState('intermediate-2', clock.now());
    clock.advance(30 * DAY);
    expect(await check.checkOnce()).toBe(1); // the root's (valid 30 days); intermediate-2's current episode is told already
    const root = await ledger.crlState('root', clock.now());
    await vi.waitFor(() => expect(ofType('crl.stale')).toHaveLength(2), { timeout: 10_000 });
    expect(ofType('crl.stale').map((r) => r.json.subject)).toEqual([`crl:intermediate-2:${active.crlNumber}`, `crl:root:${root.crlNumber}`]);
    expect(ofType('crl.stale')[1]!.json).toMatchObject({ data: { issuer: 'root', role: 'root', generation: 1 } });
  });

  it('tells the webhook once that the active intermediate expires; not of one rotated away; of the new one in its time', async () => {
    const ca = await loadCa(options);
    const intermediate = ca.generations[0]!;
    // A margin reaching one day past the intermediate's expiry (the root expires years later).
    const reaching = (notAfter: Date) => notAfter.getTime() - clock.now().getTime() + DAY;
    expect(await new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: reaching(intermediate.notAfter) - 2 * DAY }).checkOnce()).toBe(0);
    const check = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: reaching(intermediate.notAfter) });
    expect(await check.checkOnce()).toBe(1);
    expect(await check.checkOnce()).toBe(0);
    await vi.waitFor(() => expect(ofType('ca.expiring')).toHaveLength(1), { timeout: 10_000 });
    const event = ofType('ca.expiring')[0]!;
    expect(event.signatureValid).toBe(true);
    expect(event.json).toMatchObject({
      type: 'ca.expiring',
      subject: 'ca:intermediate:1',
      data: {
        role: 'intermediate',
        generation: 1,
        subject: intermediate.subject,
        serial: expect.stringMatching(/^[0-9a-f]+$/) as unknown,
        notAfter: intermediate.notAfter.toISOString(),
        run: 'certmint ca rotate-intermediate',
      },
    });
    expect(ca.roots[0]!.notAfter.getTime()).toBeGreaterThan(intermediate.notAfter.getTime() + 30 * DAY);
  });

  it('a CA certificate a rotation replaced is not reported; its successor is, in its time', async () => {
    const old = (await loadCa(options)).generations[0]!;
    clock.advance(10 * DAY);
    await rotateIntermediate(options);
    const ca = await loadCa(options);
    const successor = ca.generations.find((g) => g.generation === ca.activeGeneration)!;
    expect(successor.generation).toBe(2);
    expect(successor.notAfter.getTime()).toBeGreaterThan(old.notAfter.getTime() + 2 * DAY);
    // Generation 1 is within this margin but no longer signs: nothing.
    const reachingOld = old.notAfter.getTime() - clock.now().getTime() + DAY;
    expect(await new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: reachingOld }).checkOnce()).toBe(0);
    const reachingNew = successor.notAfter.getTime() - clock.now().getTime() + DAY;
    expect(await new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: reachingNew }).checkOnce()).toBe(1);
    await vi.waitFor(() => expect(ofType('ca.expiring')).toHaveLength(1), { timeout: 10_000 });
    expect(ofType('ca.expiring')[0]!.json).toMatchObject({ subject: 'ca:intermediate:2', data: { generation: 2 } });
  });

  it('runs on the renewal-risk check\'s timer, as serve wires it', async () => {
    const ca = await loadCa(options);
    const policy = { validityMs: DAY, refreshMs: HOUR, rootValidityMs: 30 * DAY, checkIntervalMs: 60_000 };
    await new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl'), policy, log: silent }).check();
    clock.advance(25 * HOUR);
    const caCrlCheck = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: 30 * DAY });
    const timer = new RenewalRiskCheck({
      ledger: ledger.outbox,
      clock,
      expiringWithinMs: 3 * DAY,
      log: { warn: () => undefined },
      siblings: [{ name: 'CA and CRL', checkOnce: () => caCrlCheck.checkOnce() }],
    });
    timer.start();
    await timer.stop(); // the first check runs at start; stop waits for it
    await vi.waitFor(() => expect(ofType('crl.stale')).toHaveLength(1), { timeout: 10_000 });
  });

  it('slack format: one line naming the certificate or the CRL and what to do', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(
      slackText({
        deliveryId: 'd',
        type: 'ca.expiring',
        subject: 'ca:intermediate:2',
        createdAt: at,
        payload: { role: 'intermediate', generation: 2, subject: 'CN=certmint intermediate', serial: '7f01', notAfter: '2026-01-20T00:00:00.000Z', run: 'certmint ca rotate-intermediate' },
      }),
    ).toBe('certmint: the intermediate CA certificate (generation 2, CN=certmint intermediate, serial 7f01) expires 2026-01-20T00:00:00.000Z; next: certmint ca rotate-intermediate');
    expect(
      slackText({
        deliveryId: 'd',
        type: 'crl.stale',
        subject: 'crl:intermediate-2:17',
        createdAt: at,
        payload: { issuer: 'intermediate-2', crlNumber: '17', nextUpdate: '2026-01-01T00:00:00.000Z' },
      }),
    ).toBe(
      'certmint: the CRL of intermediate-2 (number 17) is stale: its nextUpdate 2026-01-01T00:00:00.000Z has passed and no newer CRL was published; look for "CRL check failed" in the logs, or run certmint crl generate',
    );
    // A root's CRL is signed where the root key is (it may be kept offline: ca.offlineRoot).
    expect(
      slackText({
        deliveryId: 'd',
        type: 'crl.stale',
        subject: 'crl:root-2:4',
        createdAt: at,
        payload: { issuer: 'root-2', role: 'root', generation: 2, crlNumber: '4', nextUpdate: '2026-01-01T00:00:00.000Z' },
      }),
    ).toMatch(/or run certmint crl generate --root 2 where the root key is$/);
  });
});
