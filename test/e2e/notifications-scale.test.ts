import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmintPair, type CertmintPair } from '../support/certmint-pair.js';
import { haproxyAvailable } from '../support/haproxy.js';
import { postgresAvailable } from '../support/postgres.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

// Issue 22: two instances on one PostgreSQL ledger, both with the same webhook. Both hear every
// commit (LISTEN/NOTIFY) and compete for the deliveries; the lease on each row lets one send it.
const available = postgresAvailable() && haproxyAvailable();
const SECRET = 'scale-webhook-secret';
const ACCOUNTS = 30;

describe.skipIf(!available)('notifications with two instances on one ledger', () => {
  let pair: CertmintPair;
  let receiver: WebhookReceiver;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-notify-scale-'));
    writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
    receiver = new WebhookReceiver(SECRET);
    await receiver.listen();
    pair = await startCertmintPair({
      config: {
        notifications: {
          webhooks: [{ name: 'ops', url: receiver.url, events: ['account.created', 'certificate.issued'], secretFile: path.join(dir, 'secret'), format: 'json' }],
          backoffBase: '20ms',
          backoffMax: '200ms',
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await pair?.stop();
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each event is delivered exactly once', { timeout: 120_000 }, async () => {
    const wire = new AcmeWire(pair.baseUrl, pair.rootPem);
    const created = await Promise.all(Array.from({ length: ACCOUNTS }, () => wire.newAccount()));
    expect(created.every((c) => c.res.status === 201)).toBe(true);
    const events = async () => Number((await pair.query<{ n: string }>('SELECT COUNT(*) AS n FROM outbox_events'))[0]!.n);
    const undelivered = async () => Number((await pair.query<{ n: string }>("SELECT COUNT(*) AS n FROM outbox_deliveries WHERE state <> 'delivered'"))[0]!.n);
    // Every account's event, and the server certificates the instances issued themselves; settled
    // together, since an instance may raise another event of its own (a CRL or CA check) meanwhile.
    await vi.waitFor(
      async () => {
        expect(await undelivered()).toBe(0);
        expect(receiver.received).toHaveLength(await events());
      },
      { timeout: 60_000, interval: 200 },
    );
    const ids = receiver.received.map((r) => String(r.json.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(receiver.received.filter((r) => r.json.type === 'account.created')).toHaveLength(ACCOUNTS);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    const states = await pair.query<{ state: string; attempts: number; n: string }>('SELECT state, attempts, COUNT(*) AS n FROM outbox_deliveries GROUP BY 1, 2');
    expect(states).toEqual([{ state: 'delivered', attempts: 1, n: String(ids.length) }]);
    // Nothing more arrives once everything is delivered: no instance sends one again.
    const settled = receiver.received.length;
    await vi.waitFor(async () => expect(await undelivered()).toBe(0));
    expect(receiver.received).toHaveLength(settled);
  });
});
