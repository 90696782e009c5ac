import net from 'node:net';
import path from 'node:path';
import { EMAIL_TARGET, type EmailEventType, type NotificationEventType } from '../core/notification-events.js';
import type { ConfigInput } from './schema.js';

export interface WebhookConfig {
  readonly name: string;
  readonly url: string;
  readonly events: readonly NotificationEventType[];
  /** Absolute. The secret itself is read by the deliverer at start, never kept in the config. */
  readonly secretFile: string;
  readonly format: 'json' | 'slack';
}

export interface NotificationsConfig {
  readonly webhooks: readonly WebhookConfig[];
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** certificate.expiring-unrenewed: raised for an overdue certificate expiring within this. */
  readonly expiringWithinMs: number;
  /** notifications.email; undefined: off. */
  readonly email: EmailConfig | undefined;
  /** ca.expiring: raised for the CA certificates in use expiring within this. */
  readonly caExpiringWithinMs: number;
}

export interface EmailConfig {
  readonly from: string;
  readonly events: readonly EmailEventType[];
  readonly smtp: {
    readonly host: string;
    readonly port: number;
    readonly starttls: 'required' | 'off';
    /** Absolute; both or neither. The files are read by the deliverer at start, never kept in the config. */
    readonly usernameFile: string | undefined;
    readonly passwordFile: string | undefined;
    readonly caFile: string | undefined;
  };
}

/**
 * notifications.* resolved. `timer` parses a duration a timer can wait (naming the key when it
 * cannot), `duration` any duration (a margin, not waited for); `fail` throws the caller's ConfigError with the message, which names the key.
 */
export function resolveNotifications(
  n: ConfigInput['notifications'],
  cwd: string,
  parse: { readonly timer: (key: string, v: string | number) => number; readonly duration: (key: string, v: string | number) => number },
  fail: (message: string) => never,
): NotificationsConfig {
  const names = new Set<string>();
  const webhooks = n.webhooks.map((w, i): WebhookConfig => {
    const key = `notifications.webhooks[${i}]`;
    if (w.name === EMAIL_TARGET) fail(`${key}.name: "${EMAIL_TARGET}" is the name email deliveries (notifications.email) go by; give the webhook another`);
    if (names.has(w.name)) fail(`${key}.name: "${w.name}" names another webhook already; each needs its own name`);
    names.add(w.name);
    let url: URL;
    try {
      url = new URL(w.url);
    } catch {
      return fail(`${key}.url: "${w.url}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${key}.url must be an http:// or https:// URL`);
    if (url.username !== '' || url.password !== '') fail(`${key}.url must not carry credentials; the receiver checks Certmint-Signature`);
    if (w.secretFile.includes('\0')) fail(`${key}.secretFile contains a NUL byte, which no file path may have`);
    return { name: w.name, url: url.href, events: [...new Set(w.events)], secretFile: path.resolve(cwd, w.secretFile), format: w.format };
  });
  const ms = (key: string, v: string | number): number => parse.timer(`notifications.${key}`, v);
  const backoffBaseMs = ms('backoffBase', n.backoffBase);
  const backoffMaxMs = ms('backoffMax', n.backoffMax);
  if (backoffMaxMs < backoffBaseMs) fail(`notifications.backoffMax (${n.backoffMax}) must not be shorter than notifications.backoffBase (${n.backoffBase})`);
  const timeoutMs = ms('timeout', n.timeout);
  if (timeoutMs <= 0) fail('notifications.timeout must be longer than 0');
  const expiringWithinMs = ms('expiringWithin', n.expiringWithin);
  const caExpiringWithinMs = parse.duration('notifications.caExpiringWithin', n.caExpiringWithin);
  const email = resolveEmail(n.email, cwd, fail);
  return { webhooks, timeoutMs, maxInFlight: n.maxInFlight, maxAttempts: n.maxAttempts, backoffBaseMs, backoffMaxMs, expiringWithinMs, caExpiringWithinMs, email };
}

function resolveEmail(e: ConfigInput['notifications']['email'], cwd: string, fail: (message: string) => never): EmailConfig | undefined {
  const from = e.from.trim();
  const host = e.smtp.host.trim();
  if (from === '' && host === '') return undefined;
  if (host === '') fail('notifications.email.from is set but notifications.email.smtp.host is not: email needs a relay');
  if (from === '') fail('notifications.email.smtp.host is set but notifications.email.from is not: email needs a From address');
  // The address goes into MAIL FROM and the From header: the same narrow check as contacts (notify/email-message.ts).
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/.test(from)) {
    fail(`notifications.email.from: "${from}" is not a plain address (local@domain.example)`);
  }
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) fail(`notifications.email.smtp.host: "${host}" is not a host name or address`);
  if (e.smtp.starttls === 'off' && !isLoopback(host)) {
    fail(`notifications.email.smtp.starttls is off but the relay ${host} is not on loopback: mail and credentials would cross the network in clear. Use starttls: required (and smtp.caFile for a private CA)`);
  }
  const file = (key: 'usernameFile' | 'passwordFile' | 'caFile'): string | undefined => {
    const v = e.smtp[key].trim();
    if (v.includes('\0')) fail(`notifications.email.smtp.${key} contains a NUL byte, which no file path may have`);
    return v === '' ? undefined : path.resolve(cwd, v);
  };
  const usernameFile = file('usernameFile');
  const passwordFile = file('passwordFile');
  if ((usernameFile === undefined) !== (passwordFile === undefined)) {
    fail('notifications.email.smtp.usernameFile and smtp.passwordFile go together: set both (AUTH) or neither');
  }
  return {
    from,
    events: [...new Set(e.events)],
    smtp: { host: host.replace(/^\[(.*)\]$/, '$1'), port: e.smtp.port, starttls: e.smtp.starttls, usernameFile, passwordFile, caFile: file('caFile') },
  };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  return net.isIPv6(h) && (h === '::1' || h === '0:0:0:0:0:0:0:1');
}
