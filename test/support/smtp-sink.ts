import net from 'node:net';
import tls from 'node:tls';
import { selfSignedCertificate, type SelfSignedCertificate } from './tls.js';

/** A message as the sink received it: the envelope, the data (dot-stuffing undone), and how the session was. */
export interface SunkMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly data: string;
  readonly secure: boolean;
  readonly user: string | undefined;
}

export interface SmtpSinkOptions {
  /** Offer STARTTLS (with a certificate for 127.0.0.1 and localhost made here). Default true. */
  readonly starttls?: boolean;
  /** Require AUTH with these; default none. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** The AUTH mechanisms offered; default PLAIN LOGIN. */
  readonly mechanisms?: readonly string[];
  /** Recipients answered 550 (refused) and 450 (try later). */
  readonly refuse?: readonly string[];
  readonly deferOnce?: readonly string[];
}

/**
 * A small SMTP server on 127.0.0.1 (RFC 5321, STARTTLS of RFC 3207, AUTH PLAIN/LOGIN of RFC 4954)
 * that records every command line and every message, so tests can check what crossed the wire in
 * clear and what arrived. AUTH is refused before TLS when STARTTLS is offered, as real relays do.
 */
export class SmtpSink {
  readonly messages: SunkMessage[] = [];
  /** Every line received: `secure` tells whether it came over TLS. */
  readonly lines: { readonly line: string; readonly secure: boolean }[] = [];
  port = 0;
  certificate: SelfSignedCertificate | undefined;
  private readonly server = net.createServer((s) => this.session(s));
  private readonly sockets = new Set<net.Socket>();
  private readonly deferred = new Set<string>();

  constructor(private readonly o: SmtpSinkOptions = {}) {}

  async listen(port = 0): Promise<void> {
    if (this.o.starttls !== false) this.certificate ??= await selfSignedCertificate(['localhost', '127.0.0.1']);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private session(plain: net.Socket): void {
    this.sockets.add(plain);
    plain.on('close', () => this.sockets.delete(plain));
    plain.on('error', () => undefined);
    let socket: net.Socket = plain;
    let secure = false;
    let user: string | undefined;
    let from: string | undefined;
    let to: string[] = [];
    let data: string[] | undefined;
    let login: 'user' | 'pass' | undefined;
    let loginUser = '';
    let buffer = '';
    const say = (text: string) => socket.write(`${text}\r\n`);
    const authorized = (u: string, p: string) => this.o.auth !== undefined && u === this.o.auth.username && p === this.o.auth.password;
    const onLine = (line: string) => {
      this.lines.push({ line, secure });
      if (data) {
        if (line === '.') {
          this.messages.push({ from: from!, to, data: data.join('\r\n'), secure, user });
          data = undefined;
          from = undefined;
          to = [];
          say('250 2.0.0 queued as SINK1');
        } else {
          data.push(line.startsWith('.') ? line.slice(1) : line);
        }
        return;
      }
      if (login) {
        const text = Buffer.from(line, 'base64').toString('utf8');
        if (login === 'user') {
          loginUser = text;
          login = 'pass';
          say('334 UGFzc3dvcmQ6');
        } else {
          login = undefined;
          if (authorized(loginUser, text)) {
            user = loginUser;
            say('235 2.7.0 authenticated');
          } else say('535 5.7.8 authentication failed');
        }
        return;
      }
      const [verb = '', ...rest] = line.split(' ');
      const arg = rest.join(' ');
      switch (verb.toUpperCase()) {
        case 'EHLO': {
          const caps = [`250-sink greets ${arg}`, '250-8BITMIME'];
          if (this.o.starttls !== false && !secure) caps.push('250-STARTTLS');
          if (this.o.auth && (secure || this.o.starttls === false)) caps.push(`250-AUTH ${(this.o.mechanisms ?? ['PLAIN', 'LOGIN']).join(' ')}`);
          caps.push('250 SIZE 1000000');
          return void socket.write(caps.map((c) => `${c}\r\n`).join(''));
        }
        case 'STARTTLS': {
          if (this.o.starttls === false || secure) return say('502 5.5.1 not offered');
          say('220 2.0.0 ready to start TLS');
          socket.removeAllListeners('data');
          const cert = this.certificate!;
          const upgraded = new tls.TLSSocket(plain, { isServer: true, cert: cert.certPem, key: cert.keyPem });
          upgraded.on('error', () => undefined);
          upgraded.setEncoding('utf8');
          upgraded.on('data', onData);
          socket = upgraded;
          secure = true;
          buffer = '';
          return;
        }
        case 'AUTH': {
          if (!this.o.auth || (!secure && this.o.starttls !== false)) return say('503 5.5.1 AUTH not available');
          const [mechanism = '', initial] = arg.split(' ');
          if (mechanism.toUpperCase() === 'PLAIN' && initial) {
            const [, u = '', p = ''] = Buffer.from(initial, 'base64').toString('utf8').split('\0');
            if (authorized(u, p)) {
              user = u;
              return say('235 2.7.0 authenticated');
            }
            return say('535 5.7.8 authentication failed');
          }
          if (mechanism.toUpperCase() === 'LOGIN') {
            login = 'user';
            return say('334 VXNlcm5hbWU6');
          }
          return say('504 5.5.4 mechanism not supported');
        }
        case 'MAIL':
          if (this.o.auth && user === undefined) return say('530 5.7.0 authentication required');
          from = /^FROM:<(.*)>$/i.exec(arg)?.[1];
          return say('250 2.1.0 ok');
        case 'RCPT': {
          const rcpt = /^TO:<(.*)>$/i.exec(arg)?.[1] ?? '';
          if (this.o.refuse?.includes(rcpt)) return say('550 5.1.1 no such user');
          if (this.o.deferOnce?.includes(rcpt) && !this.deferred.has(rcpt)) {
            this.deferred.add(rcpt);
            return say('450 4.2.1 mailbox busy, try later');
          }
          to.push(rcpt);
          return say('250 2.1.5 ok');
        }
        case 'DATA':
          if (from === undefined || to.length === 0) return say('503 5.5.1 need MAIL and RCPT first');
          data = [];
          return say('354 end with <CRLF>.<CRLF>');
        case 'RSET':
          from = undefined;
          to = [];
          return say('250 2.0.0 ok');
        case 'QUIT':
          say('221 2.0.0 bye');
          return void socket.end();
        default:
          return say('500 5.5.2 unknown command');
      }
    };
    const onData = (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        onLine(line);
      }
    };
    plain.setEncoding('utf8');
    plain.on('data', onData);
    say('220 sink.test ESMTP');
  }
}
