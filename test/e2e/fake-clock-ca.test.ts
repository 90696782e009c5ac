import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

// ca.expiring raised by a running `certmint serve` (notify/ca-crl-check.ts), with the server's clock
// moved by CERTMINT_FAKE_CLOCK to within notifications.caExpiringWithin of the intermediate's
// notAfter. crl.stale stays with the unit tests (notify/ca-crl-check.test.ts): a server that starts
// past a CRL's nextUpdate signs a new one before its first check (crl.refresh < crl.validity), and
// a fake clock cannot jump inside a running process; only a CA key that stops signing while serve
// runs leaves a CRL stale, and file keys always sign (serve does not run on ca.keyProvider pkcs11 yet).
const SECRET = 'e2e-fake-clock-ca-secret';
const DAY_MS = 86_400_000;

describe('ca.expiring from certmint serve on a fake clock', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  let certmint: CertmintProcess;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-e2e-fake-clock-ca-'));
    writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    receiver = new WebhookReceiver(SECRET);
    await receiver.listen();
    certmint = await startCertmint({
      config: {
        // Years ahead the server would renew its own HTTPS certificate with a notBefore the host's
        // clock calls the future; plain HTTP keeps the harness (on the host clock) out of it.
        server: { tls: { enabled: false } },
        notifications: {
          webhooks: [{ name: 'ops', url: receiver.url, events: ['ca.expiring', 'crl.stale'], secretFile: path.join(dir, 'secret'), format: 'json' }],
          caExpiringWithin: '30d',
          backoffBase: '20ms',
          backoffMax: '200ms',
        },
      },
    });
  });
  afterAll(async () => {
    await certmint?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ten days before the intermediate expires the receiver gets one signed ca.expiring for it, and no crl.stale', { timeout: 120_000 }, async () => {
    const intermediate = new X509Certificate(readFileSync(path.join(certmint.dataDir, 'ca', 'intermediate.pem'), 'utf8'));
    const root = new X509Certificate(readFileSync(path.join(certmint.dataDir, 'ca', 'root.pem'), 'utf8'));
    const notAfter = new Date(intermediate.validTo);
    const tenDaysBefore = new Date(notAfter.getTime() - 10 * DAY_MS);
    // Only the intermediate is within the 30-day margin then: the root lives years longer.
    expect(new Date(root.validTo).getTime()).toBeGreaterThan(tenDaysBefore.getTime() + 365 * DAY_MS);
    expect(receiver.received).toEqual([]);

    certmint = await certmint.restart(undefined, { env: { CERTMINT_FAKE_CLOCK: tenDaysBefore.toISOString() } });
    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 60_000, interval: 100 });
    const [event] = receiver.received;
    expect(event!.signatureValid).toBe(true);
    expect(event!.json).toMatchObject({
      type: 'ca.expiring',
      subject: 'ca:intermediate:1',
      data: { role: 'intermediate', generation: 1, serial: intermediate.serialNumber.toLowerCase(), notAfter: notAfter.toISOString(), run: 'certmint ca rotate-intermediate' },
    });
    const expiresIn = (event!.json.data as { expiresInSeconds: number }).expiresInSeconds;
    expect(expiresIn).toBeGreaterThan(9 * 86_400);
    expect(expiresIn).toBeLessThanOrEqual(10 * 86_400);

    // The check that raised it looked at the CRLs in the same run (one transaction for all it
    // raises): the publisher had signed fresh ones at start, so none was stale.
    const outbox = JSON.parse((await certmint.cli(['notifications', 'list', '--json'])).stdout) as { type: string; subject: string }[];
    expect(outbox.map((d) => [d.type, d.subject])).toEqual([['ca.expiring', 'ca:intermediate:1']]);
    expect(receiver.received).toHaveLength(1);
  });
});
