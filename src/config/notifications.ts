import path from 'node:path';
import type { NotificationEventType } from '../core/notification-events.js';
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
  /** ca.expiring: raised for the CA certificates in use expiring within this. */
  readonly caExpiringWithinMs: number;
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
  return { webhooks, timeoutMs, maxInFlight: n.maxInFlight, maxAttempts: n.maxAttempts, backoffBaseMs, backoffMaxMs, expiringWithinMs, caExpiringWithinMs };
}
