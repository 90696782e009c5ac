import { readFileSync } from 'node:fs';
import { readPrivateFileSync } from '../ca/private-file.js';
import { ConfigError } from '../config/config.js';
import type { EmailConfig } from '../config/notifications.js';
import type { Clock } from '../core/clock.js';
import { EMAIL_TARGET } from '../core/notification-events.js';
import type { AccountsReader, NotificationEventType, OutboxEvent } from '../ledger/ledger.js';
import { emailMessage, mailtoAddresses } from './email-message.js';
import { sendMail, type SmtpRelay } from './smtp-client.js';
import type { AttemptOutcome, DeliveryChannel } from './webhook-deliverer.js';

/**
 * The relay of notifications.email.smtp with its credentials and trust read now (at start, so a
 * file that cannot be read stops `serve` before it listens). Credential files must be private like
 * every other secret file; one trailing newline is dropped.
 * @throws ConfigError naming the key.
 */
export function loadSmtpRelay(email: EmailConfig, heloName: string): SmtpRelay {
  const { smtp } = email;
  const secret = (key: 'usernameFile' | 'passwordFile', file: string): string => {
    let bytes: Buffer;
    try {
      bytes = readPrivateFileSync(file, `notifications.email.smtp.${key} ${file}`);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    let end = bytes.length;
    if (bytes[end - 1] === 0x0a) end--;
    if (bytes[end - 1] === 0x0d) end--;
    const text = bytes.subarray(0, end).toString('utf8');
    bytes.fill(0);
    if (text === '') throw new ConfigError(`notifications.email.smtp.${key}: ${file} is empty`);
    // Both go into one AUTH line; a line break or NUL in them would end or split it.
    if (/[\0\r\n]/.test(text)) throw new ConfigError(`notifications.email.smtp.${key}: ${file} holds a line break or NUL byte before its last line end`);
    return text;
  };
  let ca: string | undefined;
  if (smtp.caFile !== undefined) {
    try {
      ca = readFileSync(smtp.caFile, 'utf8');
    } catch (e) {
      throw new ConfigError(`notifications.email.smtp.caFile: cannot read ${smtp.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`notifications.email.smtp.caFile: ${smtp.caFile} holds no PEM certificate`);
  }
  const credentials =
    smtp.usernameFile !== undefined && smtp.passwordFile !== undefined
      ? { username: secret('usernameFile', smtp.usernameFile), password: secret('passwordFile', smtp.passwordFile) }
      : undefined;
  return { host: smtp.host, port: smtp.port, starttls: smtp.starttls, ca, credentials, heloName };
}

/** The name certmint gives in EHLO (RFC 5321 §4.1.1.1): server.baseUrl's host, an address as a literal. */
export function heloNameOf(baseUrl: string): string {
  let host: string;
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    return 'localhost';
  }
  if (host.startsWith('[')) return `[IPv6:${host.slice(1, -1)}]`;
  if (/^[\d.]+$/.test(host)) return `[${host}]`;
  return /^[A-Za-z0-9.-]+$/.test(host) ? host : 'localhost';
}

export interface EmailChannelOptions {
  readonly accounts: Pick<AccountsReader, 'getAccount'>;
  readonly relay: SmtpRelay;
  readonly from: string;
  readonly events: readonly NotificationEventType[];
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** The ACME directory's URL, named in the message's renewal command. */
  readonly directoryUrl: string;
}

/**
 * Mails an event to the `mailto:` contacts its account has when the delivery is attempted (a
 * contact changed since the event was raised gets the mail at its new address). An event whose
 * account has none ends delivered with a note saying nothing was sent: `notifications list` shows it.
 */
export class EmailChannel implements DeliveryChannel {
  readonly name = EMAIL_TARGET;
  readonly events: readonly NotificationEventType[];

  constructor(private readonly o: EmailChannelOptions) {
    this.events = o.events;
  }

  async deliver(event: OutboxEvent): Promise<AttemptOutcome> {
    const accountId = typeof event.payload.accountId === 'string' ? event.payload.accountId : undefined;
    if (accountId === undefined) return { ok: true, note: 'the certificate has no account; nothing sent' };
    let account;
    try {
      account = await this.o.accounts.getAccount(accountId);
    } catch (e) {
      return { ok: false, error: `reading account ${accountId} failed: ${(e as Error).message}` };
    }
    if (account === undefined) return { ok: true, note: `account ${accountId} does not exist; nothing sent` };
    if (account.status !== 'valid') return { ok: true, note: `account ${accountId} is ${account.status}; nothing sent` };
    const { addresses, skipped } = mailtoAddresses(account.contact);
    const unusable = skipped.length > 0 ? ` (${skipped.length} contact${skipped.length === 1 ? '' : 's'} not a plain mailto: address, left out)` : '';
    if (addresses.length === 0) return { ok: true, note: `account ${accountId} has no mailto: contact${unusable}; nothing sent` };
    const data = emailMessage({ event, from: this.o.from, to: addresses, now: this.o.clock.now(), directoryUrl: this.o.directoryUrl });
    const outcome = await sendMail(this.o.relay, { from: this.o.from, to: addresses, data }, this.o.timeoutMs);
    if (!outcome.ok) return { ok: false, error: outcome.error, permanent: outcome.permanent };
    const refused = outcome.rejected.length > 0 ? `; refused by the relay: ${outcome.rejected.join('; ')}` : '';
    return { ok: true, note: `mailed to ${outcome.accepted.join(', ')}${refused}${unusable}` };
  }
}
