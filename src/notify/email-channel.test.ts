import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { accountRecord, certificateRecord } from '../../test/support/ledger-records.js';
import { SmtpSink } from '../../test/support/smtp-sink.js';
import { WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { loadWebhooks } from './secrets.js';
import { ConfigError } from '../config/config.js';
import { EmailChannel, heloNameOf, loadSmtpRelay } from './email-channel.js';
import { RenewalRiskCheck } from './renewal-risk-check.js';
import type { SmtpRelay } from './smtp-client.js';
import { WebhookDeliverer } from './webhook-deliverer.js';

// Email through the outbox: a real SQLite ledger, the renewal-risk check and the real deliverer on
// a ManualClock, mailing through the SMTP sink of test/support (STARTTLS with a certificate made
// for the test, AUTH) on 127.0.0.1.
const DAY = 86_400_000;
const start = new Date('2026-01-01T00:00:00Z');
const CREDENTIALS = { username: 'certmint', password: 'pw-never-logged' };

let dir: string;
let ledger: SqliteLedger;
let sink: SmtpSink;
let deliverer: WebhookDeliverer | undefined;
let clock: ManualClock;
const warnings: { fields: Record<string, unknown>; message: string }[] = [];

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-email-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  sink = new SmtpSink({ auth: CREDENTIALS });
  await sink.listen();
  clock = new ManualClock(start);
  warnings.length = 0;
});

afterEach(async () => {
  await deliverer?.stop();
  deliverer = undefined;
  await sink.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startDeliverer(over: { relay?: Partial<SmtpRelay>; maxAttempts?: number; webhookUrl?: string } = {}): Promise<void> {
  const relay: SmtpRelay = { host: '127.0.0.1', port: sink.port, starttls: 'required', ca: sink.certificate?.certPem, credentials: CREDENTIALS, heloName: 'ca.example', ...over.relay };
  const channel = new EmailChannel({
    accounts: ledger,
    relay,
    from: 'certmint@ca.example',
    events: ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'],
    timeoutMs: 5000,
    clock,
    directoryUrl: 'https://ca.example:8443/acme/directory',
  });
  deliverer = new WebhookDeliverer({
    ledger: ledger.outbox,
    webhooks: over.webhookUrl === undefined ? [] : loadWebhooks([{ name: 'ops', url: over.webhookUrl, events: ['certificate.renewal-overdue'], secretFile: path.join(dir, 'hook-secret'), format: 'json' }]),
    channels: [channel],
    settings: { timeoutMs: 5000, maxInFlight: 4, maxAttempts: over.maxAttempts ?? 5, backoffBaseMs: 1000, backoffMaxMs: 60_000 },
    clock,
    source: 'https://ca.example:8443',
    log: { warn: (fields, message) => warnings.push({ fields, message }) },
  });
  await deliverer.start();
}

/** One certificate of account a1 (contacts as given), 30 days long, overdue after 20 days. */
async function overdueCertificate(contact: string[]): Promise<RenewalRiskCheck> {
  await ledger.createAccount({ ...accountRecord('a1', 't1', start), contact });
  await ledger.insertCertificate(certificateRecord('0a', ['www.example.internal', 'api.example.internal'], 30, start));
  const check = new RenewalRiskCheck({ ledger: ledger.outbox, clock, expiringWithinMs: 3 * DAY, log: { warn: () => undefined } });
  clock.advance(22 * DAY);
  expect(await check.checkOnce()).toBe(1);
  return check;
}

const emailDeliveries = async () => (await ledger.outbox.listDeliveries({ limit: 10 })).filter((d) => d.webhook === 'email');

describe('email to account contacts', () => {
  it('each mailto: contact gets one message per event, naming the certificate, its names, its expiry and what to run', async () => {
    await startDeliverer();
    const check = await overdueCertificate(['mailto:ops@example.com', 'mailto:Dev@Example.org', 'mailto:ops@example.com']);
    await vi.waitFor(() => expect(sink.messages).toHaveLength(1), { timeout: 10_000 });
    const m = sink.messages[0]!;
    expect(m).toMatchObject({ from: 'certmint@ca.example', to: ['ops@example.com', 'Dev@Example.org'], secure: true, user: 'certmint' });
    const head = m.data.slice(0, m.data.indexOf('\r\n\r\n'));
    const body = m.data.slice(head.length + 4);
    const delivery = (await emailDeliveries())[0]!;
    expect(head.split('\r\n')).toEqual([
      'From: certmint <certmint@ca.example>',
      'To: <ops@example.com>, <Dev@Example.org>',
      // The identifiers as the ledger keeps them: sorted.
      'Subject: [certmint] renewal overdue: api.example.internal',
      'Date: Fri, 23 Jan 2026 00:00:00 +0000',
      `Message-ID: <${delivery.event.deliveryId}@ca.example>`,
      `Certmint-Delivery: ${delivery.event.deliveryId}`,
      'Auto-Submitted: auto-generated',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ]);
    expect(body).toContain('Certificate:  0a\r\n');
    expect(body).toContain('Identifiers:  api.example.internal, www.example.internal\r\n');
    expect(body).toContain('Expires:      2026-01-31T00:00:00.000Z (in 8 days)\r\n');
    expect(body).toContain('Account:      a1\r\n');
    expect(body).toContain('certbot renew --cert-name api.example.internal');
    expect(body).toContain('certmint certs show 0a');
    await vi.waitFor(async () => expect((await emailDeliveries())[0]).toMatchObject({ state: 'delivered', note: 'mailed to ops@example.com, Dev@Example.org' }));

    clock.advance(6 * DAY);
    expect(await check.checkOnce()).toBe(1);
    await vi.waitFor(() => expect(sink.messages).toHaveLength(2), { timeout: 10_000 });
    expect(sink.messages[1]!.data).toContain('Subject: [certmint] expiring, not renewed: api.example.internal\r\n');
    expect(await check.checkOnce()).toBe(0);
    expect(sink.messages).toHaveLength(2);
  });

  it('a webhook and email on the same event: each gets it once', async () => {
    writeFileSync(path.join(dir, 'hook-secret'), 'hook-secret\n', { mode: 0o600 });
    const receiver = new WebhookReceiver('hook-secret');
    await receiver.listen();
    try {
      await startDeliverer({ webhookUrl: receiver.url });
      await overdueCertificate(['mailto:ops@example.com']);
      await vi.waitFor(() => expect(sink.messages).toHaveLength(1), { timeout: 10_000 });
      await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 10_000 });
      expect(receiver.received[0]!.json).toMatchObject({ type: 'certificate.renewal-overdue', subject: '0a' });
      // What arrived is recorded just after: wait for the records, not a time.
      await vi.waitFor(async () =>
        expect((await ledger.outbox.listDeliveries({ limit: 10 })).map((d) => [d.webhook, d.state]).sort()).toEqual([['email', 'delivered'], ['ops', 'delivered']]),
      );
    } finally {
      await deliverer?.stop();
      deliverer = undefined;
      await receiver.close();
    }
  });

  it('an account without a mailto: contact: delivered with nothing sent, and the list says why', async () => {
    await startDeliverer();
    await overdueCertificate([]);
    await vi.waitFor(async () => expect((await emailDeliveries())[0]).toMatchObject({ state: 'delivered', note: 'account a1 has no mailto: contact; nothing sent' }));
    expect(sink.messages).toEqual([]);
  });

  it('the relay down, then up: the attempt is retried with backoff and the mail arrives once', async () => {
    const port = sink.port;
    const certificate = sink.certificate;
    await sink.close();
    await startDeliverer({ relay: { port, ca: certificate!.certPem } });
    await overdueCertificate(['mailto:ops@example.com']);
    await vi.waitFor(async () => expect((await emailDeliveries())[0]).toMatchObject({ state: 'pending', attempts: 1 }), { timeout: 10_000 });
    expect((await emailDeliveries())[0]!.lastError).toMatch(/ECONNREFUSED/);
    expect(warnings[0]!.message).toBe('notifications: delivery attempt failed; retrying in 1000 ms');
    sink = new SmtpSink({ auth: CREDENTIALS });
    sink.certificate = certificate;
    await sink.listen(port);
    clock.advance(1000);
    deliverer!.wake();
    await vi.waitFor(() => expect(sink.messages).toHaveLength(1), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await emailDeliveries())[0]).toMatchObject({ state: 'delivered', attempts: 2 }));
  });

  it('a wrong password: failed at once (5xx), listed as failed, one warn line without the credentials; retry sends it', async () => {
    await startDeliverer({ relay: { credentials: { username: 'certmint', password: 'wrong-password' } } });
    await overdueCertificate(['mailto:ops@example.com']);
    await vi.waitFor(async () => expect(await ledger.outbox.listDeliveries({ failed: true, limit: 10 })).toHaveLength(1), { timeout: 10_000 });
    const [failed] = await ledger.outbox.listDeliveries({ failed: true, limit: 10 });
    expect(failed).toMatchObject({ webhook: 'email', attempts: 1, lastError: 'the relay answered 535 5.7.8 authentication failed to AUTH PLAIN' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^notifications: delivery refused for good at attempt 1; `certmint notifications retry /);
    const logged = JSON.stringify(warnings);
    for (const secret of ['wrong-password', Buffer.from('\0certmint\0wrong-password').toString('base64')]) expect(logged).not.toContain(secret);

    await deliverer!.stop();
    await startDeliverer();
    expect(await ledger.outbox.retryDeliveries({}, clock.now())).toBe(1);
    deliverer!.wake();
    await vi.waitFor(() => expect(sink.messages).toHaveLength(1), { timeout: 10_000 });
  });

  it('STARTTLS required, the relay without it: a retry that says so, and nothing but EHLO went out in clear', async () => {
    await sink.close();
    sink = new SmtpSink({ starttls: false, auth: CREDENTIALS });
    await sink.listen();
    await startDeliverer({ relay: { port: sink.port } });
    await overdueCertificate(['mailto:ops@example.com']);
    await vi.waitFor(async () => expect((await emailDeliveries())[0]).toMatchObject({ state: 'pending', attempts: 1 }), { timeout: 10_000 });
    expect((await emailDeliveries())[0]!.lastError).toBe('the relay does not offer STARTTLS and notifications.email.smtp.starttls is required; nothing was sent');
    expect(sink.lines.map((l) => l.line)).toEqual(['EHLO ca.example']);
  });
});

describe('SMTP relay settings', () => {
  const email = (over: Record<string, string | undefined>) => ({
    from: 'certmint@ca.example',
    events: ['certificate.renewal-overdue' as const],
    smtp: { host: 'relay.example', port: 587, starttls: 'required' as const, usernameFile: undefined, passwordFile: undefined, caFile: undefined, ...over },
  });

  it('credential files: private, one trailing newline dropped; a loose mode or a missing file is refused naming the key', () => {
    const user = path.join(dir, 'user');
    const pw = path.join(dir, 'pw');
    writeFileSync(user, 'certmint\n', { mode: 0o600 });
    writeFileSync(pw, 'p w\r\n', { mode: 0o400 });
    expect(loadSmtpRelay(email({ usernameFile: user, passwordFile: pw }), 'ca.example').credentials).toEqual({ username: 'certmint', password: 'p w' });
    chmodSync(pw, 0o644);
    expect(() => loadSmtpRelay(email({ usernameFile: user, passwordFile: pw }), 'ca.example')).toThrow(ConfigError);
    expect(() => loadSmtpRelay(email({ usernameFile: user, passwordFile: pw }), 'ca.example')).toThrow(
      new RegExp(`notifications\\.email\\.smtp\\.passwordFile ${pw} has mode 0644: .* chmod 600 ${pw}`),
    );
    expect(() => loadSmtpRelay(email({ usernameFile: user, passwordFile: path.join(dir, 'nope') }), 'ca.example')).toThrow(/notifications\.email\.smtp\.passwordFile .*nope cannot be read/);
    writeFileSync(pw, 'a\nb\n', { mode: 0o600 });
    chmodSync(pw, 0o600);
    expect(() => loadSmtpRelay(email({ usernameFile: user, passwordFile: pw }), 'ca.example')).toThrow(/holds a line break or NUL byte/);
    expect(() => loadSmtpRelay(email({ caFile: user }), 'ca.example')).toThrow(/notifications\.email\.smtp\.caFile: .* holds no PEM certificate/);
  });

  it('EHLO names server.baseUrl\'s host, an address as a literal', () => {
    expect(heloNameOf('https://ca.example.internal:8443')).toBe('ca.example.internal');
    expect(heloNameOf('https://10.0.0.5:8443')).toBe('[10.0.0.5]');
    expect(heloNameOf('https://[::1]:8443')).toBe('[IPv6:::1]');
  });
});
