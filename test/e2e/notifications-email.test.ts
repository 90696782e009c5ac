import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { SmtpSink } from '../support/smtp-sink.js';

// Issue 22, email: a running `certmint serve` mailing through the SMTP sink of test/support
// (STARTTLS with a certificate made for the test, AUTH PLAIN) on 127.0.0.1. The wall clock the
// server reads cannot be moved: `certs renew-early` ends the certificate's ARI window now, and the
// restart runs the renewal-risk check at once (it runs at start, then every minute).
const PASSWORD = 'e2e-smtp-password';

let dir: string;
let sink: SmtpSink;
let certmint: CertmintProcess | undefined;
let responder: Http01Responder | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-e2e-email-'));
  sink = new SmtpSink({ auth: { username: 'certmint', password: PASSWORD } });
  await sink.listen();
  writeFileSync(path.join(dir, 'relay-ca.pem'), sink.certificate!.certPem);
  writeFileSync(path.join(dir, 'smtp-user'), 'certmint\n', { mode: 0o600 });
  writeFileSync(path.join(dir, 'smtp-password'), `${PASSWORD}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await responder?.stop();
  await certmint?.stop();
  await sink?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('email to account contacts through certmint serve', () => {
  it('an unrenewed certificate: its account contact gets renewal-overdue and expiring-unrenewed once each, over STARTTLS', { timeout: 180_000 }, async () => {
    certmint = await startCertmint({
      config: {
        ca: { leafLifetime: '10d' },
        notifications: {
          backoffBase: '20ms',
          backoffMax: '200ms',
          timeout: '5s',
          // Ten-day certificates are within this of their expiry: the overdue one is expiring-unrenewed too.
          expiringWithin: '20d',
          email: {
            from: 'certmint@ca.example.internal',
            smtp: {
              host: '127.0.0.1',
              port: sink.port,
              caFile: path.join(dir, 'relay-ca.pem'),
              usernameFile: path.join(dir, 'smtp-user'),
              passwordFile: path.join(dir, 'smtp-password'),
            },
          },
        },
      },
    });
    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
    const account = (await wire.newAccount()).account!; // contact mailto:ops@example.internal
    const order = await wire.readyOrder(account, ['stuck.email.test'], responder);
    const fin = await wire.finalize(account, order.finalize, ['stuck.email.test']);
    expect(fin.status).toBe(200);
    const serial = String(JSON.parse(fin.body).certificate).split('/').pop()!;
    expect((await certmint.cli(['certs', 'renew-early', serial])).code).toBe(0);
    await responder.stop();
    responder = undefined;
    certmint = await certmint.restart();

    await vi.waitFor(() => expect(sink.messages).toHaveLength(2), { timeout: 60_000 });
    for (const m of sink.messages) {
      expect(m).toMatchObject({ from: 'certmint@ca.example.internal', to: ['ops@example.internal'], secure: true, user: 'certmint' });
      expect(m.data).toContain(`Certificate:  ${serial}\r\n`);
      expect(m.data).toContain('Identifiers:  stuck.email.test\r\n');
      expect(m.data).toContain(`certmint certs show ${serial}\r\n`);
    }
    expect(sink.messages.map((m) => /^Subject: (.*)$/m.exec(m.data)?.[1]?.trim()).sort()).toEqual([
      '[certmint] expiring, not renewed: stuck.email.test',
      '[certmint] renewal overdue: stuck.email.test',
    ]);
    expect(sink.lines.filter((l) => !l.secure).map((l) => l.line.split(' ')[0])).toEqual(['EHLO', 'STARTTLS', 'EHLO', 'STARTTLS']);

    const list = await certmint.cli(['notifications', 'list', '--json']);
    const email = (JSON.parse(list.stdout) as { webhook: string; state: string; note: string | null }[]).filter((d) => d.webhook === 'email');
    expect(email).toEqual([
      expect.objectContaining({ state: 'delivered', note: 'mailed to ops@example.internal' }),
      expect.objectContaining({ state: 'delivered', note: 'mailed to ops@example.internal' }),
    ]);
    const metrics = await wire.get('/metrics');
    expect(metrics.body).toMatch(/^certmint_notification_attempts_total\{webhook="email",outcome="delivered"\} 2$/m);
    expect(`${list.stdout}${list.stderr}${metrics.body}`).not.toContain(PASSWORD);
  });
});
