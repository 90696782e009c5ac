import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { SmtpSink } from '../../test/support/smtp-sink.js';
import type { OutboxDelivery } from '../ledger/ledger.js';
import { listDeliveriesText } from './commands/notifications.js';

// `certmint notifications test --email` through the built CLI, mailing through the SMTP sink of
// test/support (STARTTLS with a certificate made for the test, AUTH PLAIN) on 127.0.0.1.
const PASSWORD = 'cli-test-password';
let dir: string;
let sink: SmtpSink;

function config(password = 'pw'): string {
  const file = path.join(dir, `certmint-${password}.yaml`);
  writeFileSync(
    file,
    [
      `dataDir: ${path.join(dir, 'data')}`,
      'notifications:',
      '  timeout: 5s',
      '  email:',
      '    from: certmint@ca.example',
      '    smtp:',
      '      host: 127.0.0.1',
      `      port: ${sink.port}`,
      `      caFile: ${path.join(dir, 'relay-ca.pem')}`,
      `      usernameFile: ${path.join(dir, 'user')}`,
      `      passwordFile: ${path.join(dir, password)}`,
      '',
    ].join('\n'),
  );
  return file;
}

beforeAll(async () => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-cli-email-'));
  sink = new SmtpSink({ auth: { username: 'certmint', password: PASSWORD } });
  await sink.listen();
  writeFileSync(path.join(dir, 'relay-ca.pem'), sink.certificate!.certPem);
  writeFileSync(path.join(dir, 'user'), 'certmint\n', { mode: 0o600 });
  writeFileSync(path.join(dir, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'bad'), 'not-the-password\n', { mode: 0o600 });
});
afterAll(async () => {
  await sink?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('certmint notifications test --email', () => {
  it("mails a test message through the relay and prints the relay's answer", async () => {
    const r = await runCli(['notifications', 'test', '--email', 'ops@example.com', '-c', config()]);
    expect(r).toMatchObject({ code: 0, stdout: `delivered to the relay 127.0.0.1:${sink.port} (250 2.0.0 queued as SINK1)\n` });
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]).toMatchObject({ from: 'certmint@ca.example', to: ['ops@example.com'], secure: true, user: 'certmint' });
    expect(sink.messages[0]!.data).toContain('\r\nSubject: [certmint] test message\r\n');
  });

  it('a wrong password: exit 1 and the relay\'s refusal, never the password', async () => {
    const r = await runCli(['notifications', 'test', '--email', 'ops@example.com', '-c', config('bad')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('failed: the relay answered 535 5.7.8 authentication failed to AUTH PLAIN\n');
    expect(`${r.stdout}${r.stderr}`).not.toContain('not-the-password');
  });

  it('an address that is not one plain address is refused before anything is sent', async () => {
    const before = sink.lines.length;
    const r = await runCli(['notifications', 'test', '--email', 'a@example.com>\r\nRCPT TO:<b@example.com', '-c', config()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--email: ".*" is not a plain address/s);
    expect(sink.lines.length).toBe(before);
  });
});

describe('certmint notifications list', () => {
  it("shows a delivered email's note where a failed one shows its error", () => {
    const d: OutboxDelivery = {
      event: { deliveryId: 'd-1', type: 'certificate.renewal-overdue', subject: '0a', payload: {}, createdAt: new Date('2026-01-01T00:00:00Z') },
      eventId: 1,
      webhook: 'email',
      state: 'delivered',
      attempts: 1,
      nextAttemptAt: new Date('2026-01-01T00:00:00Z'),
      lastError: undefined,
      note: 'account a1 has no mailto: contact; nothing sent',
      deliveredAt: new Date('2026-01-01T00:00:01Z'),
    };
    expect(listDeliveriesText([d], false).split('\n')[1]).toMatch(/^d-1 +certificate\.renewal-overdue +0a +email +delivered +1 +2026-01-01T00:00:01\.000Z +account a1 has no mailto: contact; nothing sent$/);
    expect(JSON.parse(listDeliveriesText([d], true))[0]).toMatchObject({ webhook: 'email', state: 'delivered', lastError: null, note: 'account a1 has no mailto: contact; nothing sent' });
  });
});
