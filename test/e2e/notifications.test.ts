import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FlattenedSign } from 'jose';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import { newAccountKey } from '../support/jws-client.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver.js';

// Issue 22, notifications: a running `certmint serve` with a webhook, a real HTTP receiver in the
// test that checks every signature, ACME over the wire. Backoff is milliseconds, so waits are short;
// the tests wait for what arrives, never for a time.
const SECRET = 'e2e-webhook-secret';
const EVENTS = ['certificate.issued', 'certificate.revoked', 'account.created', 'eab.bound'];

let dir: string;
let receiver: WebhookReceiver;
let certmint: CertmintProcess | undefined;
let responder: Http01Responder | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-e2e-notify-'));
  writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await responder?.stop();
  await certmint?.stop();
  await receiver.close();
  responder = undefined;
  certmint = undefined;
});

async function start(notifications: Record<string, unknown> = {}): Promise<AcmeWire> {
  receiver = new WebhookReceiver(SECRET);
  await receiver.listen();
  certmint = await startCertmint({
    config: {
      notifications: {
        webhooks: [{ name: 'ops', url: receiver.url, events: EVENTS, secretFile: path.join(dir, 'secret'), format: 'json' }],
        backoffBase: '20ms',
        backoffMax: '200ms',
        timeout: '2s',
        ...notifications,
      },
    },
  });
  responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
  return new AcmeWire(certmint.baseUrl, certmint.rootPem);
}

async function issue(wire: AcmeWire, account: WireAccount, name: string): Promise<{ serial: string; der: Buffer }> {
  const order = await wire.readyOrder(account, [name], responder!);
  const fin = await wire.finalize(account, order.finalize, [name]);
  if (fin.status !== 200) throw new Error(`finalize: ${fin.status} ${fin.body}`);
  const certUrl = String(JSON.parse(fin.body).certificate);
  const pem = (await wire.postAsGet(account, certUrl)).body;
  const der = Buffer.from(pem.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s/g, ''), 'base64');
  return { serial: certUrl.split('/').pop()!, der };
}

/** newAccount with an external account binding (RFC 8555 §7.3.4) made with a key from `certmint eab create`: the account's id and the key's. */
async function newBoundAccount(wire: AcmeWire): Promise<{ id: string; kid: string }> {
  const created = await certmint!.cli(['eab', 'create', '--label', 'notify', '--json']);
  const { kid, hmacKey } = JSON.parse(created.stdout) as { kid: string; hmacKey: string };
  const key = await newAccountKey();
  const url = `${wire.baseUrl}/acme/new-account`;
  const eab = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(key.jwk)))
    .setProtectedHeader({ alg: 'HS256', kid, url })
    .sign(Buffer.from(hmacKey, 'base64url'));
  const res = await wire.post(key, url, { termsOfServiceAgreed: true, externalAccountBinding: eab });
  if (res.status !== 201) throw new Error(`newAccount with EAB: ${res.status} ${res.body}`);
  return { id: String(res.headers.location).split('/').pop()!, kid };
}

/** Waits for `check`; when it never passes, says what the outbox and the server said (a bare length mismatch does not). */
async function waitForDeliveries(check: () => void, timeout: number): Promise<void> {
  try {
    await vi.waitFor(check, { timeout, interval: 100 });
  } catch (e) {
    const outbox = certmint ? (await certmint.cli(['notifications', 'list', '--json'])).stdout : '(no server)';
    throw new Error(`${(e as Error).message}\nreceived: ${JSON.stringify(receiver.received.map((r) => [r.json.type, r.json.subject]))}\noutbox: ${outbox}\n--- certmint ---\n${certmint?.output() ?? ''}`);
  }
}

/** What the receiver got about ACME clients' things (not the server's own HTTPS certificate, actor "certmint"). */
const ofClients = (r: readonly ReceivedWebhook[]) => r.filter((x) => (x.json.data as { actor?: string }).actor !== 'certmint');

describe('notifications through certmint serve', () => {
  it('every event type raised reaches the receiver once, signed, in order per certificate', { timeout: 120_000 }, async () => {
    const wire = await start();
    const { id: boundId, kid } = await newBoundAccount(wire);
    const account = (await wire.newAccount()).account!;
    const { serial, der } = await issue(wire, account, 'notify.test');
    const revoked = await wire.post(account.key, `${wire.baseUrl}/acme/revoke-cert`, { certificate: der.toString('base64url'), reason: 4 }, account.url);
    expect(revoked.status).toBe(200);
    await vi.waitFor(() => expect(ofClients(receiver.received)).toHaveLength(5), { timeout: 30_000 });
    const got = ofClients(receiver.received);
    expect(got.map((r) => [r.json.type, r.json.subject])).toEqual([
      ['account.created', `account:${boundId}`],
      ['eab.bound', `eab:${kid}`],
      ['account.created', `account:${account.url.split('/').pop()}`],
      ['certificate.issued', serial],
      ['certificate.revoked', serial],
    ]);
    expect(got.every((r) => r.signatureValid && r.headers['certmint-delivery'] === r.json.id)).toBe(true);
    expect(got[1]!.json).toMatchObject({ data: { account: boundId } });
    expect(got[3]!.json).toMatchObject({ specversion: '1.0', source: certmint!.baseUrl, data: { serial, identifiers: ['notify.test'] } });
    // The server's own HTTPS certificate was issued too, by certmint itself.
    expect(receiver.received.filter((r) => (r.json.data as { actor?: string }).actor === 'certmint').map((r) => r.json.type)).toEqual(['certificate.issued']);
    const metrics = await wire.get('/metrics');
    expect(metrics.body).toMatch(/^certmint_notification_attempts_total\{webhook="ops",outcome="delivered"\} 6$/m);
  });

  it('kill -9 with events in the outbox and the receiver down: after the restart every event is delivered, none lost', { timeout: 180_000 }, async () => {
    // The receiver is down while two certificates are issued and the server is killed and started
    // again: on a loaded machine that takes seconds. 10 attempts 20-200 ms apart (1.3 s) used to
    // end account.created failed before the kill (a failed delivery is sent again only by
    // `notifications retry`), and the test then waited out its timeout for an event that was never
    // lost but given up. 100 attempts up to 1 s apart keep them pending through ~90 s of outage.
    const wire = await start({ maxAttempts: 100, backoffMax: '1s' });
    await waitForDeliveries(() => expect(receiver.received).toHaveLength(1), 60_000); // the server's own certificate
    await receiver.close();
    const account = (await wire.newAccount()).account!;
    const issued = [await issue(wire, account, 'a.notify.test'), await issue(wire, account, 'b.notify.test')];
    // The precondition: all three are in the outbox, not delivered, not given up.
    const before = JSON.parse((await certmint!.cli(['notifications', 'list', '--json'])).stdout) as { state: string; subject: string }[];
    const subjects = [`account:${account.url.split('/').pop()}`, ...issued.map((i) => i.serial)].sort();
    expect(before.filter((d) => subjects.includes(d.subject)).map((d) => d.state)).toEqual(['pending', 'pending', 'pending']);
    certmint = await certmint!.restart(undefined, { signal: 'SIGKILL' });
    await responder!.stop();
    responder = undefined;
    await receiver.listen();
    // A delivery the killed server had claimed waits for its lease (2 × timeout + 10 s) to run out.
    await waitForDeliveries(() => expect(ofClients(receiver.received)).toHaveLength(3), 120_000);
    expect(ofClients(receiver.received).map((r) => r.json.subject).sort()).toEqual(subjects);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
  });
});

describe('certmint notifications list, retry, test', () => {
  it('a receiver answering 500 forever: the delivery ends failed, shows in list --failed, and retry delivers it once the receiver is back', { timeout: 120_000 }, async () => {
    receiver = new WebhookReceiver(SECRET);
    receiver.mode = 'fail';
    await receiver.listen();
    certmint = await startCertmint({
      config: {
        notifications: {
          webhooks: [{ name: 'ops', url: receiver.url, events: ['account.created'], secretFile: path.join(dir, 'secret'), format: 'json' }],
          backoffBase: '10ms',
          backoffMax: '50ms',
          maxAttempts: 3,
        },
      },
    });
    const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
    const account = (await wire.newAccount()).account!;
    const failedJson = async () => JSON.parse((await certmint!.cli(['notifications', 'list', '--failed', '--json'])).stdout) as Record<string, unknown>[];
    await vi.waitFor(async () => expect(await failedJson()).toHaveLength(1), { timeout: 30_000, interval: 200 });
    const [failed] = await failedJson();
    expect(failed).toMatchObject({ type: 'account.created', subject: `account:${account.url.split('/').pop()}`, webhook: 'ops', state: 'failed', attempts: 3, lastError: 'HTTP 500' });
    const table = await certmint.cli(['notifications', 'list', '--failed']);
    expect(table.stdout).toMatch(new RegExp(`^${failed!.delivery as string}\\s+account\\.created\\s+account:\\S+\\s+ops\\s+failed\\s+3\\s+-\\s+HTTP 500$`, 'm'));
    // Three failed attempts: three warn lines in the server's log, none with a stack.
    expect(certmint.output().match(/notifications: delivery (attempt )?failed/g)).toHaveLength(3);
    expect(certmint.output()).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);

    expect((await wire.get('/metrics')).body).toMatch(/^certmint_notification_deliveries\{state="failed"\} 1$/m);
    receiver.mode = 'ok';
    const test = await certmint.cli(['notifications', 'test', '--webhook', 'ops']);
    expect(test).toMatchObject({ code: 0, stdout: 'delivered (HTTP 204)\n' });
    expect(receiver.received.map((r) => [r.json.type, r.signatureValid])).toEqual([['certmint.test', true]]);
    const unknown = await certmint.cli(['notifications', 'test', '--webhook', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('certmint: no webhook named nope in notifications.webhooks (ops)\n');

    const retry = await certmint.cli(['notifications', 'retry', String(failed!.delivery)]);
    expect(retry.code).toBe(0);
    await vi.waitFor(() => expect(receiver.received).toHaveLength(2), { timeout: 30_000 });
    expect(receiver.received[1]!.json).toMatchObject({ id: failed!.delivery, type: 'account.created' });
    expect(await failedJson()).toEqual([]);
    expect((await certmint.cli(['notifications', 'retry', String(failed!.delivery)])).stderr).toMatch(/^certmint: no failed delivery /);
  });
});
