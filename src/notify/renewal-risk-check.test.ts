import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { accountRecord, certificateRecord } from '../../test/support/ledger-records.js';
import { WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { RenewalRiskCheck } from './renewal-risk-check.js';
import { loadWebhooks } from './secrets.js';
import { WebhookDeliverer } from './webhook-deliverer.js';
import { slackText } from './webhook-request.js';

// The check against a real SQLite ledger, delivered by the real deliverer to a real receiver on
// 127.0.0.1; the certificates' time is a ManualClock's (the deliverer's backoff is not exercised).
const DAY = 86_400_000;
const SECRET = 'receiver-secret';
const start = new Date('2026-01-01T00:00:00Z');

let dir: string;
let ledger: SqliteLedger;
let receiver: WebhookReceiver;
let deliverer: WebhookDeliverer | undefined;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-risk-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  receiver = new WebhookReceiver(SECRET);
  await receiver.listen();
});

afterEach(async () => {
  await deliverer?.stop();
  deliverer = undefined;
  await receiver.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('renewal-risk check', () => {
  it('tells the webhook once that a certificate is overdue, once that it expires unrenewed', async () => {
    const clock = new ManualClock(start);
    const secretFile = path.join(dir, 'secret');
    writeFileSync(secretFile, SECRET, { mode: 0o600 });
    const webhooks = loadWebhooks([
      { name: 'ops', url: receiver.url, events: ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'], secretFile, format: 'json' },
    ]);
    deliverer = new WebhookDeliverer({
      ledger: ledger.outbox,
      webhooks,
      settings: { timeoutMs: 2000, maxInFlight: 4, maxAttempts: 5, backoffBaseMs: 5, backoffMaxMs: 40 },
      clock,
      source: 'https://ca.example.internal',
      log: { warn: () => undefined },
    });
    await deliverer.start();
    await ledger.createAccount(accountRecord('a1', 't1', start));
    await ledger.insertCertificate(certificateRecord('0a', ['a.internal'], 30, start));
    const check = new RenewalRiskCheck({ ledger: ledger.outbox, clock, expiringWithinMs: 3 * DAY, log: { warn: () => undefined } });

    expect(await check.checkOnce()).toBe(0);
    clock.advance(22 * DAY);
    expect(await check.checkOnce()).toBe(1);
    expect(await check.checkOnce()).toBe(0);
    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 10_000 });
    expect(receiver.received[0]!.json).toMatchObject({
      type: 'certificate.renewal-overdue',
      subject: '0a',
      data: { serial: '0a', identifiers: ['a.internal'], notAfter: new Date(start.getTime() + 30 * DAY).toISOString(), accountId: 'a1' },
    });
    expect(receiver.received[0]!.signatureValid).toBe(true);

    clock.advance(6 * DAY);
    expect(await check.checkOnce()).toBe(1);
    expect(await check.checkOnce()).toBe(0);
    await vi.waitFor(() => expect(receiver.received).toHaveLength(2), { timeout: 10_000 });
    expect(receiver.received[1]!.json).toMatchObject({ type: 'certificate.expiring-unrenewed', subject: '0a' });
  });

  it('slack format: one line naming the certificate, its names and its dates', () => {
    const payload = { serial: '0a', identifiers: ['a.internal'], notAfter: '2026-01-31T00:00:00.000Z', renewalDueAt: '2026-01-22T00:00:00.000Z', accountId: 'a1' };
    const event = { deliveryId: 'd', subject: '0a', payload, createdAt: start };
    expect(slackText({ ...event, type: 'certificate.renewal-overdue' })).toBe(
      'certmint: certificate 0a for a.internal is overdue for renewal (due 2026-01-22T00:00:00.000Z, expires 2026-01-31T00:00:00.000Z)',
    );
    expect(slackText({ ...event, type: 'certificate.expiring-unrenewed' })).toBe(
      'certmint: certificate 0a for a.internal expires 2026-01-31T00:00:00.000Z and has not been renewed',
    );
  });
});

