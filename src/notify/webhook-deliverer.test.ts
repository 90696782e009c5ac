import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import type { NotificationEventType } from '../ledger/ledger.js';
import { accountRecord, certificateRecord } from '../../test/support/ledger-records.js';
import { verify, WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { loadWebhooks } from './secrets.js';
import { WebhookDeliverer } from './webhook-deliverer.js';

// The deliverer against a real SQLite ledger and a real HTTP receiver on 127.0.0.1. The clock is
// the system's: backoff is a few milliseconds, and the tests wait for what arrives, never for a time.
const ALL: NotificationEventType[] = ['certificate.issued', 'certificate.revoked', 'account.created', 'eab.bound'];
const SECRET = 'receiver-secret';

let dir: string;
let ledger: SqliteLedger;
let receiver: WebhookReceiver;
let deliverer: WebhookDeliverer | undefined;
const warnings: { fields: Record<string, unknown>; message: string }[] = [];

function start(over: { maxAttempts?: number; timeoutMs?: number; secretText?: string; events?: NotificationEventType[]; format?: 'json' | 'slack' } = {}): WebhookDeliverer {
  const secretFile = path.join(dir, 'secret');
  writeFileSync(secretFile, over.secretText ?? `${SECRET}\n`, { mode: 0o600 });
  const webhooks = loadWebhooks([{ name: 'ops', url: receiver.url, events: over.events ?? ALL, secretFile, format: over.format ?? 'json' }]);
  deliverer = new WebhookDeliverer({
    ledger: ledger.outbox,
    webhooks,
    settings: { timeoutMs: over.timeoutMs ?? 2000, maxInFlight: 4, maxAttempts: over.maxAttempts ?? 50, backoffBaseMs: 5, backoffMaxMs: 40 },
    clock: systemClock,
    source: 'https://ca.example.internal',
    log: { warn: (fields, message) => warnings.push({ fields, message }) },
  });
  return deliverer;
}

async function raiseEveryKind(serial = '0a'): Promise<void> {
  const now = systemClock.now();
  await ledger.createEabKey({ kid: `k-${serial}`, label: 'l', hmacSealed: new Uint8Array([1]), reusable: false, createdAt: now }, 'test');
  await ledger.createAccount({ ...accountRecord(`a-${serial}`, `t-${serial}`, now), eabKid: `k-${serial}` });
  await ledger.insertCertificate(certificateRecord(serial, [`${serial}.internal`], 30, now, `a-${serial}`));
  await ledger.revokeCertificate({ serial, reason: 4, revokedAt: now, blockKey: false, actor: 'test' });
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-notify-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  receiver = new WebhookReceiver(SECRET);
  await receiver.listen();
  warnings.length = 0;
});

afterEach(async () => {
  await deliverer?.stop();
  deliverer = undefined;
  await receiver.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('webhook deliverer', () => {
  it('every event type reaches the receiver once, signed, as a CloudEvent naming the event and the serial', async () => {
    await start().start();
    await raiseEveryKind();
    await vi.waitFor(() => expect(receiver.received).toHaveLength(4), { timeout: 10_000 });
    expect(receiver.received.map((r) => String(r.json.type)).sort()).toEqual([...ALL].sort());
    for (const r of receiver.received) {
      expect(r.signatureValid).toBe(true);
      expect(r.headers['content-type']).toBe('application/cloudevents+json');
      expect(r.headers['certmint-delivery']).toBe(r.json.id);
      expect(r.json).toMatchObject({ specversion: '1.0', source: 'https://ca.example.internal' });
      expect(Date.parse(String(r.json.time))).not.toBeNaN();
      // A wrong secret is detected by the same check.
      expect(verify('another-secret', r.headers, r.body)).toBe(false);
      expect(verify(SECRET, r.headers, r.body.replace('}', ' }'))).toBe(false);
    }
    const issued = receiver.received.find((r) => r.json.type === 'certificate.issued')!;
    expect(issued.json).toMatchObject({ subject: '0a', data: { serial: '0a', identifiers: ['0a.internal'] } });
    const revoked = receiver.received.find((r) => r.json.type === 'certificate.revoked')!;
    expect(revoked.json).toMatchObject({ subject: '0a', data: { serial: '0a', reason: 4 } });
    expect(receiver.received.indexOf(issued)).toBeLessThan(receiver.received.indexOf(revoked));
    expect(new Set(receiver.received.map((r) => r.json.id)).size).toBe(4);
    expect((await ledger.outbox.listDeliveries({ limit: 10 })).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(warnings).toEqual([]);
  });

  it('the secret file\'s trailing newline is not part of the secret; a receiver with another secret refuses every delivery', async () => {
    await start({ secretText: 'not-the-receiver-secret\n' }).start();
    await ledger.createAccount(accountRecord('a1', 't1', systemClock.now()));
    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 10_000 });
    expect(receiver.received[0]!.signatureValid).toBe(false);
    expect(verify('not-the-receiver-secret', receiver.received[0]!.headers, receiver.received[0]!.body)).toBe(true);
  });

  it('slack format: {"text": …}, signed the same way', async () => {
    await start({ format: 'slack', events: ['certificate.issued'] }).start();
    await raiseEveryKind('0b');
    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 10_000 });
    expect(receiver.received[0]!.json).toEqual({ text: expect.stringContaining('certmint issued certificate 0b for 0b.internal') });
    expect(receiver.received[0]!.signatureValid).toBe(true);
  });

  it('receiver down, then up: every event arrives, in order per certificate', async () => {
    await receiver.close();
    await start().start();
    for (const serial of ['01', '02', '03']) await raiseEveryKind(serial);
    // Every delivery not waiting behind an earlier one of its certificate has failed twice at least.
    await vi.waitFor(async () => expect((await ledger.outbox.listDeliveries({ limit: 100 })).filter((d) => d.attempts >= 2)).toHaveLength(9), { timeout: 10_000 });
    expect((await ledger.outbox.listDeliveries({ limit: 100 })).filter((d) => d.event.type === 'certificate.revoked').map((d) => d.attempts)).toEqual([0, 0, 0]);
    await receiver.listen();
    await vi.waitFor(() => expect(receiver.received).toHaveLength(12), { timeout: 20_000 });
    for (const serial of ['01', '02', '03']) {
      const ofCert = receiver.received.filter((r) => r.json.subject === serial).map((r) => r.json.type);
      expect(ofCert).toEqual(['certificate.issued', 'certificate.revoked']);
    }
    expect(new Set(receiver.received.map((r) => r.json.id)).size).toBe(12);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    // One warn line per failed attempt, without a stack.
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings) {
      expect(w.message).toMatch(/^notifications: delivery attempt failed; retrying in \d+ ms$/);
      expect(JSON.stringify(w.fields)).not.toMatch(/\n\s+at /);
    }
  });

  it('a receiver answering 500 forever: failed after maxAttempts, listed, and retry delivers it once the receiver is back', async () => {
    receiver.mode = 'fail';
    await start({ maxAttempts: 3 }).start();
    await ledger.createAccount(accountRecord('a1', 't1', systemClock.now()));
    await vi.waitFor(async () => expect(await ledger.outbox.listDeliveries({ failed: true, limit: 10 })).toHaveLength(1), { timeout: 10_000 });
    const [failed] = await ledger.outbox.listDeliveries({ failed: true, limit: 10 });
    expect(failed).toMatchObject({ state: 'failed', attempts: 3, lastError: 'HTTP 500' });
    expect(warnings.map((w) => w.message.replace(/\d+ ms/, 'N ms'))).toEqual([
      'notifications: delivery attempt failed; retrying in N ms',
      'notifications: delivery attempt failed; retrying in N ms',
      `notifications: delivery failed after 3 attempts; \`certmint notifications retry ${failed!.event.deliveryId}\` sends it again`,
    ]);
    receiver.mode = 'ok';
    expect(await ledger.outbox.retryDeliveries({ deliveryId: failed!.event.deliveryId }, systemClock.now())).toBe(1);
    deliverer!.wake();
    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 10_000 });
    expect(receiver.received[0]!.json.id).toBe(failed!.event.deliveryId);
  });

  it('a receiver that hangs costs one timeout per attempt and nothing else', async () => {
    receiver.mode = 'hang';
    await start({ timeoutMs: 200, maxAttempts: 1 }).start();
    await ledger.createAccount(accountRecord('a1', 't1', systemClock.now()));
    await vi.waitFor(async () => expect(await ledger.outbox.listDeliveries({ failed: true, limit: 10 })).toHaveLength(1), { timeout: 10_000 });
    expect((await ledger.outbox.listDeliveries({ failed: true, limit: 10 }))[0]!.lastError).toBe('no answer within 200 ms');
  });
});
