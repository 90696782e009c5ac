import { describe, expect, it } from 'vitest';
import { emailMessage, isMailboxAddress, mailtoAddresses } from './email-message.js';

describe('email message', () => {
  it('only plain addresses go into SMTP commands and headers: no line break, space, angle bracket, comma or quoting', () => {
    for (const ok of ['ops@example.com', 'first.last+certs@mail.example.internal', "o'brien@example.org", 'x@a-b.example']) expect(isMailboxAddress(ok)).toBe(true);
    for (const bad of [
      'ops@example.com\r\nBcc: all@example.com',
      'ops@example.com>\r\nRCPT TO:<b@example.com',
      'ops@example.com\n',
      'a b@example.com',
      '"a b"@example.com',
      'a@example.com,b@example.com',
      'a@[127.0.0.1]',
      'a@localhost',
      '.a@example.com',
      'a..b@example.com',
      'a@-example.com',
      'a@example.com?subject=x',
      `${'a'.repeat(65)}@example.com`,
      '@example.com',
    ]) {
      expect(isMailboxAddress(bad)).toBe(false);
    }
  });

  it("an account's contacts: mailto: addresses once each (case-insensitively), anything else left out and counted", () => {
    expect(mailtoAddresses(['mailto:ops@example.com', 'mailto:OPS@example.com', 'tel:+1555', 'mailto:a@example.com%0d%0aBcc:x@y.example', 'mailto:dev@example.org'])).toEqual({
      addresses: ['ops@example.com', 'dev@example.org'],
      skipped: ['tel:+1555', 'mailto:a@example.com%0d%0aBcc:x@y.example'],
    });
  });

  it('identifiers from the ledger cannot break a header or a body line', () => {
    const event = {
      deliveryId: 'd-1',
      type: 'certificate.expiring-unrenewed' as const,
      subject: '0a',
      payload: { serial: '0a', identifiers: ['evil.example\r\nBcc: x@y.example'], notAfter: '2026-01-02T00:00:00.000Z', renewalDueAt: '2026-01-01T00:00:00.000Z', accountId: 'a1' },
      createdAt: new Date('2026-01-01T00:00:00Z'),
    };
    const data = emailMessage({ event, from: 'certmint@ca.example', to: ['ops@example.com'], now: new Date('2026-01-01T12:00:00Z'), directoryUrl: 'https://ca.example/directory' });
    expect(data).toContain('\r\nSubject: [certmint] expiring, not renewed: evil.example??Bcc: x@y.example\r\n');
    expect(data.split('\r\n').some((l) => l.startsWith('Bcc:'))).toBe(false);
    expect(data).not.toMatch(/[^\r]\n|\r[^\n]/);
    expect(data).toContain('Expires:      2026-01-02T00:00:00.000Z (in 12 hours)\r\n');
  });
});
