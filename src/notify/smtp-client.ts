import net from 'node:net';
import tls from 'node:tls';

/** The relay of notifications.email.smtp, credentials read from their files. */
export interface SmtpRelay {
  readonly host: string;
  readonly port: number;
  /** required: nothing but EHLO and STARTTLS goes over the connection before TLS; off: plain (a relay on loopback only). */
  readonly starttls: 'required' | 'off';
  /** PEM certificates trusted for the relay's certificate; undefined: the system's roots. */
  readonly ca: string | undefined;
  readonly credentials: { readonly username: string; readonly password: string } | undefined;
  /** The name certmint gives in EHLO. */
  readonly heloName: string;
}

/** One message: envelope addresses already checked (email-message.ts), the message with CRLF line ends. */
export interface SmtpMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly data: string;
}

/** `permanent`: a 5xx reply, sending it again would get the same answer. */
export type SmtpOutcome =
  | { readonly ok: true; readonly accepted: readonly string[]; readonly rejected: readonly string[]; readonly reply: string }
  | { readonly ok: false; readonly permanent: boolean; readonly error: string };

interface Reply {
  readonly code: number;
  readonly lines: readonly string[];
}

class SmtpReplyError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** A relay's reply lines are shown to the operator; this much of each, never the whole of a hostile one. */
const REPLY_TEXT_CAP = 200;
/** A reply longer than this (all its lines) ends the attempt: RFC 5321 §4.5.3.1.5 allows 512 octets a line. */
const REPLY_BYTES_CAP = 64 * 1024;

/**
 * Reads SMTP replies (RFC 5321 §4.2: "250-…" continues, "250 …" ends) from one socket. Bytes the
 * relay sends ahead of a reply are kept for the next read; STARTTLS checks that none are left
 * (anything sent before the handshake would be read as if it came over TLS).
 */
class ReplyReader {
  private buffer = '';
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private lines: string[] = [];

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      if (this.buffer.length > REPLY_BYTES_CAP) this.fail(new Error(`the relay sent a reply of more than ${REPLY_BYTES_CAP} bytes`));
      else this.parse();
    });
    socket.on('error', (e) => this.fail(new Error(describeSocketError(e))));
    socket.on('close', () => this.fail(new Error('the relay closed the connection')));
  }

  get pending(): boolean {
    return this.buffer.length > 0 || this.lines.length > 0;
  }

  read(): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.parse();
    });
  }

  /** Stops listening (the socket is handed to TLS). */
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
  }

  fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.failure);
  }

  private parse(): void {
    if (!this.waiting) return;
    for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) return this.fail(new Error(`the relay sent a line that is no SMTP reply: ${printable(line)}`));
      this.lines.push(line);
      if (m[2] !== '-') {
        const reply = { code: Number(m[1]), lines: this.lines.map((l) => l.slice(4)) };
        this.lines = [];
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(reply);
        return;
      }
    }
  }
}

/**
 * Sends one message through the relay: EHLO, STARTTLS and EHLO again (required unless starttls is
 * off), AUTH PLAIN or LOGIN when credentials are set, MAIL FROM, RCPT TO for each recipient, DATA
 * (dot-stuffed), QUIT. The whole attempt ends after `timeoutMs`. A 4xx reply is a retry; a 5xx is
 * permanent; a recipient refused with 5xx is left out (the others still get the message).
 */
export async function sendMail(relay: SmtpRelay, message: SmtpMessage, timeoutMs: number): Promise<SmtpOutcome> {
  const socket = net.connect({ host: relay.host, port: relay.port });
  const session = new SmtpSession(socket);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const outcome = await Promise.race([converse(relay, message, session), timeout]);
    // QUIT is sent; a relay slow to close costs a second, not a socket kept open.
    setTimeout(() => session.close(), 1000).unref();
    return outcome;
  } catch (e) {
    session.close();
    if (e instanceof SmtpReplyError) return { ok: false, permanent: e.permanent, error: e.message };
    return { ok: false, permanent: false, error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** The connection as it is now (plain, then TLS after STARTTLS) and its reply reader. */
class SmtpSession {
  current: net.Socket;
  reader: ReplyReader;
  private closing = false;

  constructor(private readonly plain: net.Socket) {
    this.current = plain;
    this.reader = new ReplyReader(plain);
  }

  /** Sends `command` (when given) and reads the reply, which `ok` must accept; `shown` names the step in errors (never credentials). */
  async expect(command: string | undefined, shown: string, ok: (code: number) => boolean): Promise<Reply> {
    if (command !== undefined) this.current.write(`${command}\r\n`);
    const reply = await this.reader.read();
    if (!ok(reply.code)) throw new SmtpReplyError(`the relay answered ${describeReply(reply)} to ${shown}`, reply.code >= 500);
    return reply;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.current.destroy();
    this.plain.destroy();
  }
}

const ok2 = (c: number) => c >= 200 && c < 300;

async function converse(relay: SmtpRelay, message: SmtpMessage, s: SmtpSession): Promise<SmtpOutcome> {
  await s.expect(undefined, 'the connection (greeting)', (c) => c === 220);
  let ehlo = await s.expect(`EHLO ${relay.heloName}`, 'EHLO', ok2);
  if (relay.starttls === 'required') {
    if (!extensions(ehlo).has('STARTTLS')) {
      throw new SmtpReplyError('the relay does not offer STARTTLS and notifications.email.smtp.starttls is required; nothing was sent', false);
    }
    await s.expect('STARTTLS', 'STARTTLS', (c) => c === 220);
    // RFC 3207 §4: what came before the handshake must not be taken as if it came over TLS.
    if (s.reader.pending) throw new SmtpReplyError('the relay sent more after its STARTTLS answer, before TLS; nothing was sent', false);
    s.reader.detach();
    const plain = s.current;
    // From here TLS reads and reports this socket's errors; one that came twice must not be unhandled.
    plain.on('error', () => undefined);
    const secured = tls.connect({ socket: plain, servername: net.isIP(relay.host) ? undefined : relay.host, ...(relay.ca ? { ca: relay.ca } : {}), minVersion: 'TLSv1.2' });
    s.current = secured;
    secured.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', resolve);
      secured.once('error', (e) => reject(new Error(`TLS with the relay failed: ${describeSocketError(e)}; nothing was sent`)));
      secured.once('close', () => reject(new Error('the relay closed the connection during the TLS handshake; nothing was sent')));
    });
    s.reader = new ReplyReader(secured);
    ehlo = await s.expect(`EHLO ${relay.heloName}`, 'EHLO after STARTTLS', ok2);
  }
  // starttls off is allowed for a relay on loopback only (config/notifications.ts): credentials never cross a network in clear.
  if (relay.credentials) await authenticate(relay.credentials, extensions(ehlo), s);
  await s.expect(`MAIL FROM:<${message.from}>`, 'MAIL FROM', ok2);
  const accepted: string[] = [];
  const rejected: string[] = [];
  for (const to of message.to) {
    s.current.write(`RCPT TO:<${to}>\r\n`);
    const reply = await s.reader.read();
    if (ok2(reply.code)) accepted.push(to);
    else if (reply.code >= 500) rejected.push(`${to}: ${describeReply(reply)}`);
    else throw new SmtpReplyError(`the relay answered ${describeReply(reply)} to RCPT TO <${to}>`, false);
  }
  if (accepted.length === 0) throw new SmtpReplyError(`the relay refused every recipient (${rejected.join('; ')})`, true);
  await s.expect('DATA', 'DATA', (c) => c === 354);
  const end = await s.expect(`${dotStuffed(message.data)}\r\n.`, 'the message (end of DATA)', ok2);
  s.current.end('QUIT\r\n');
  return { ok: true, accepted, rejected, reply: describeReply(end) };
}

async function authenticate(
  credentials: NonNullable<SmtpRelay['credentials']>,
  caps: ReadonlyMap<string, string>,
  s: SmtpSession,
): Promise<void> {
  const mechanisms = new Set((caps.get('AUTH') ?? '').toUpperCase().split(/\s+/));
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  // The shown names never carry the credentials: an error message names the step only.
  if (mechanisms.has('PLAIN')) {
    await s.expect(`AUTH PLAIN ${b64(`\0${credentials.username}\0${credentials.password}`)}`, 'AUTH PLAIN', (c) => c === 235);
  } else if (mechanisms.has('LOGIN')) {
    await s.expect('AUTH LOGIN', 'AUTH LOGIN', (c) => c === 334);
    await s.expect(b64(credentials.username), 'AUTH LOGIN (username)', (c) => c === 334);
    await s.expect(b64(credentials.password), 'AUTH LOGIN (password)', (c) => c === 235);
  } else {
    throw new SmtpReplyError(`the relay offers no AUTH PLAIN or LOGIN (offers: ${caps.get('AUTH') ?? 'no AUTH'}) and credentials are configured`, false);
  }
}

/** EHLO keywords (upper case) and their parameters. */
function extensions(ehlo: Reply): Map<string, string> {
  const caps = new Map<string, string>();
  for (const line of ehlo.lines.slice(1)) {
    const [keyword = '', ...rest] = line.trim().split(/\s+/);
    caps.set(keyword.toUpperCase(), rest.join(' '));
  }
  return caps;
}

/** RFC 5321 §4.5.2: a line that starts with "." gets another. */
export function dotStuffed(data: string): string {
  return data.replace(/(^|\r\n)\./g, '$1..');
}

function describeReply(r: Reply): string {
  return `${r.code} ${printable(r.lines.join(' '))}`.trimEnd();
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > REPLY_TEXT_CAP ? `${clean.slice(0, REPLY_TEXT_CAP)}…` : clean;
}

function describeSocketError(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
}
