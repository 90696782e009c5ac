import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireOrSkip } from '../support/clients.js';
import { runCli } from '../support/cli.js';
import { splitPem } from '../support/issued-certificate.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

// Issue 22's test through real parts and an injected clock: `certmint serve` and the CLI on
// CERTMINT_FAKE_CLOCK (an offset clock, tests only), lego as the ACME client, a webhook receiver
// checking signatures. The renew-early variant in lego.test.ts moves the windows instead.
const available = requireOrSkip('lego', 'apt-get install lego');
const SECRET = 'e2e-fake-clock-secret';
const DAY_MS = 86_400_000;

describe('CERTMINT_FAKE_CLOCK', () => {
  it('an unreadable value stops serve and any command with one line naming the variable', async () => {
    for (const args of [['serve'], ['certs', 'list']]) {
      const r = await runCli(args, { CERTMINT_FAKE_CLOCK: 'next tuesday' });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('certmint: CERTMINT_FAKE_CLOCK="next tuesday" is not an RFC 3339 time (e.g. 2030-01-01T00:00:00Z); unset it to run on the host\'s clock\n');
    }
  });
});

describe.skipIf(!available)('lego, lineage and renewal-overdue on a fake clock', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  let certmint: CertmintProcess;
  let legoDir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-e2e-fake-clock-'));
    writeFileSync(path.join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    receiver = new WebhookReceiver(SECRET);
    await receiver.listen();
    certmint = await startCertmint({
      config: {
        // The server's own HTTPS certificate must not be renewed at the fake times below: one dated
        // in the future would fail lego's (and this test's) certificate checks on the host clock.
        server: { tls: { lifetime: '90d' } },
        notifications: {
          webhooks: [{ name: 'ops', url: receiver.url, events: ['certificate.renewal-overdue'], secretFile: path.join(dir, 'secret'), format: 'json' }],
          backoffBase: '20ms',
          backoffMax: '200ms',
        },
      },
    });
    legoDir = path.join(certmint.tempDir, 'lego');
  });
  afterAll(async () => {
    await certmint?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function lego(name: string, command: readonly string[]): Promise<void> {
    const args = [
      '--server', certmint.directoryUrl, '--email', 'ops@example.internal', '--accept-tos', '--domains', name,
      '--http', '--http.port', `127.0.0.1:${certmint.http01Port}`, '--path', legoDir, ...command,
    ];
    return new Promise((resolve, reject) => {
      execFile('lego', args, { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile }, timeout: 90_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`lego ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}`)) : resolve(),
      );
    });
  }
  const leafOf = (name: string) =>
    new X509Certificate(splitPem(readFileSync(path.join(legoDir, 'certificates', `${name}.crt`), 'utf8'))[0]!).serialNumber.toLowerCase();
  const listed = async (...args: string[]) => {
    const r = await certmint.cli(['certs', 'list', '--json', '--identifier', '*.clock.lego.test', ...args]);
    expect(r.stderr).toBe('');
    return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial);
  };

  it('lego issues and renews: the renewal links to the first certificate; past the window only the unrenewed one is overdue, once', { timeout: 300_000 }, async () => {
    await lego('renewed.clock.lego.test', ['run']);
    await lego('stuck.clock.lego.test', ['run']);
    const first = leafOf('renewed.clock.lego.test');
    const stuck = leafOf('stuck.clock.lego.test');

    // Two days later (on the server's clock) lego renews one of them: its renewal's window ends two
    // days after the stuck one's.
    const twoDaysOn = new Date(Date.now() + 2 * DAY_MS).toISOString();
    certmint = await certmint.restart(undefined, { env: { CERTMINT_FAKE_CLOCK: twoDaysOn } });
    expect(certmint.output()).toMatch(/CERTMINT_FAKE_CLOCK is set: this server runs on a fake clock, (2 d|1 d 23 h \d+ min \d+ s|1 d 23 h \d+ min) ahead of the host's/);
    await lego('renewed.clock.lego.test', ['renew', '--days', '3650', '--no-random-sleep']);
    const renewal = leafOf('renewed.clock.lego.test');
    expect(renewal).not.toBe(first);
    // This lego does not send ARI "replaces": the link is the same account and the same names.
    expect(await certmint.showCertificate(renewal)).toMatchObject({ replaces: first, replacedBy: null });
    expect(await certmint.showCertificate(first)).toMatchObject({ replaces: null, replacedBy: renewal });
    expect(await listed('--overdue')).toEqual([]);

    // An hour past the end of the stuck certificate's ARI window: it is overdue; the first one is
    // superseded (never at risk) and its renewal's window is still open.
    const stuckShown = await certmint.showCertificate(stuck);
    const renewalShown = await certmint.showCertificate(renewal);
    const pastWindow = new Date(Date.parse(String(stuckShown.renewalDueAt)) + 3_600_000);
    expect(Date.parse(String(renewalShown.renewalDueAt))).toBeGreaterThan(pastWindow.getTime() + DAY_MS);
    expect(Date.parse(String(stuckShown.notAfter))).toBeGreaterThan(pastWindow.getTime() + 3 * DAY_MS);
    certmint = await certmint.restart(undefined, { env: { CERTMINT_FAKE_CLOCK: pastWindow.toISOString() } });

    // The CLI runs on the same fake clock (certmint.cli passes the server's CERTMINT_FAKE_CLOCK).
    expect(await listed('--overdue')).toEqual([stuck]);
    expect(await listed('--unrenewed-expiring-within', '30d')).toEqual([stuck]);
    expect(await listed('--unrenewed-expiring-within', '1d')).toEqual([]);

    const metrics = parsePrometheusText((await new AcmeWire(certmint.baseUrl, certmint.rootPem).get('/metrics')).body);
    expect(metrics.find('certmint_certificates_renewal_overdue').reduce((sum, s) => sum + s.value, 0)).toBe(1);
    expect(metrics.value('certmint_certificates_renewal_overdue', { profile: 'default' })).toBe(1);

    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 60_000, interval: 100 });
    const [event] = receiver.received;
    expect(event!.signatureValid).toBe(true);
    expect(event!.json).toMatchObject({ type: 'certificate.renewal-overdue', subject: stuck, data: { serial: stuck } });
    // Raised once per certificate: the outbox holds this one event and nothing for the others.
    const outbox = JSON.parse((await certmint.cli(['notifications', 'list', '--json'])).stdout) as { type: string; subject: string }[];
    expect(outbox.filter((d) => d.type === 'certificate.renewal-overdue').map((d) => d.subject)).toEqual([stuck]);
    expect(receiver.received).toHaveLength(1);
  });
});
