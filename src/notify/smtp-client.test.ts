import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpSink } from '../../test/support/smtp-sink.js';
import { dotStuffed, sendMail, type SmtpRelay } from './smtp-client.js';

// The client against the SMTP sink of test/support (node:net, a real TLS upgrade with a certificate
// made for the test, AUTH), on 127.0.0.1.
const CREDENTIALS = { username: 'certmint', password: 's3cret-pw' };
const MESSAGE = { from: 'certmint@ca.example', to: ['a@example.com'], data: 'Subject: hi\r\n\r\nline one\r\n.starts with a dot\r\n.' };

let sink: SmtpSink | undefined;
let server: net.Server | undefined;

afterEach(async () => {
  await sink?.close();
  sink = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function startSink(o: ConstructorParameters<typeof SmtpSink>[0] = {}): Promise<SmtpSink> {
  sink = new SmtpSink({ auth: CREDENTIALS, ...o });
  await sink.listen();
  return sink;
}

function relay(s: SmtpSink, over: Partial<SmtpRelay> = {}): SmtpRelay {
  return { host: '127.0.0.1', port: s.port, starttls: 'required', ca: s.certificate?.certPem, credentials: CREDENTIALS, heloName: 'ca.example', ...over };
}

describe('SMTP client', () => {
  it('EHLO, STARTTLS, EHLO, AUTH PLAIN, one RCPT per recipient, DATA dot-stuffed: the message arrives whole, over TLS', async () => {
    const s = await startSink();
    const outcome = await sendMail(relay(s), { ...MESSAGE, to: ['a@example.com', 'b@example.org'] }, 5000);
    expect(outcome).toMatchObject({ ok: true, accepted: ['a@example.com', 'b@example.org'], rejected: [] });
    expect(s.messages).toEqual([{ from: 'certmint@ca.example', to: ['a@example.com', 'b@example.org'], data: MESSAGE.data, secure: true, user: 'certmint' }]);
    // Before TLS: the two commands RFC 3207 allows, nothing else.
    expect(s.lines.filter((l) => !l.secure).map((l) => l.line)).toEqual(['EHLO ca.example', 'STARTTLS']);
    expect(dotStuffed('.a\r\nb\r\n..c')).toBe('..a\r\nb\r\n...c');
  });

  it('AUTH LOGIN when the relay offers only that', async () => {
    const s = await startSink({ mechanisms: ['LOGIN'] });
    expect(await sendMail(relay(s), MESSAGE, 5000)).toMatchObject({ ok: true });
    expect(s.messages[0]!.user).toBe('certmint');
  });

  it('STARTTLS required and not offered: the attempt fails saying so, and nothing but EHLO was sent', async () => {
    const s = await startSink({ starttls: false });
    const outcome = await sendMail(relay(s), MESSAGE, 5000);
    expect(outcome).toEqual({ ok: false, permanent: false, error: 'the relay does not offer STARTTLS and notifications.email.smtp.starttls is required; nothing was sent' });
    expect(s.lines.map((l) => l.line)).toEqual(['EHLO ca.example']);
    expect(s.messages).toEqual([]);
  });

  it("a relay certificate not trusted (no caFile): TLS fails, nothing sent", async () => {
    const s = await startSink();
    const outcome = await sendMail(relay(s, { ca: undefined }), MESSAGE, 5000);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toMatch(/^TLS with the relay failed: .*self.signed.*; nothing was sent$/i);
    expect(s.lines.some((l) => l.secure)).toBe(false);
  });

  it('a wrong password: 535, permanent, and the error names the step, never the credentials', async () => {
    const s = await startSink();
    const outcome = await sendMail(relay(s, { credentials: { username: 'certmint', password: 'wrong-pw' } }), MESSAGE, 5000);
    expect(outcome).toEqual({ ok: false, permanent: true, error: 'the relay answered 535 5.7.8 authentication failed to AUTH PLAIN' });
    expect(s.messages).toEqual([]);
  });

  it('a recipient refused (5xx) is left out; one deferred (4xx) makes the attempt a retry', async () => {
    const s = await startSink({ refuse: ['gone@example.com'], deferOnce: ['busy@example.com'] });
    expect(await sendMail(relay(s), { ...MESSAGE, to: ['gone@example.com', 'a@example.com'] }, 5000)).toMatchObject({
      ok: true,
      accepted: ['a@example.com'],
      rejected: ['gone@example.com: 550 5.1.1 no such user'],
    });
    expect(await sendMail(relay(s), { ...MESSAGE, to: ['busy@example.com'] }, 5000)).toEqual({
      ok: false,
      permanent: false,
      error: 'the relay answered 450 4.2.1 mailbox busy, try later to RCPT TO <busy@example.com>',
    });
    expect(await sendMail(relay(s), { ...MESSAGE, to: ['gone@example.com'] }, 5000)).toMatchObject({ ok: false, permanent: true });
    expect(s.messages.map((m) => m.to)).toEqual([['a@example.com']]);
  });

  it('a relay (or a man in the middle) that sends more after its STARTTLS answer, before TLS: refused, nothing sent (RFC 3207 §4)', async () => {
    const received: string[] = [];
    server = net.createServer((socket) => {
      socket.setEncoding('utf8');
      socket.write('220 mitm ESMTP\r\n');
      socket.on('data', (chunk: string) => {
        received.push(chunk);
        if (chunk.startsWith('EHLO')) socket.write('250-mitm\r\n250 STARTTLS\r\n');
        // The injected answer would be read as the reply to the EHLO sent over TLS.
        if (chunk.startsWith('STARTTLS')) socket.write('220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const outcome = await sendMail({ host: '127.0.0.1', port, starttls: 'required', ca: undefined, credentials: CREDENTIALS, heloName: 'ca.example' }, MESSAGE, 5000);
    expect(outcome).toEqual({ ok: false, permanent: false, error: 'the relay sent more after its STARTTLS answer, before TLS; nothing was sent' });
    expect(received.join('')).toBe('EHLO ca.example\r\nSTARTTLS\r\n');
  });

  it('no relay listening: a retry naming the refusal; a relay that never answers: one timeout', async () => {
    const s = await startSink();
    const port = s.port;
    await s.close();
    sink = undefined;
    const down = await sendMail({ ...relay(s), port }, MESSAGE, 5000);
    expect(down).toMatchObject({ ok: false, permanent: false });
    expect(!down.ok && down.error).toMatch(/ECONNREFUSED/);
    server = net.createServer(() => undefined);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const silent = await sendMail({ ...relay(s), port: (server.address() as net.AddressInfo).port }, MESSAGE, 300);
    expect(silent).toEqual({ ok: false, permanent: false, error: 'no answer within 300 ms' });
  });
});
