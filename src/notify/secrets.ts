import { readPrivateFileSync } from '../ca/private-file.js';
import { ConfigError } from '../config/config.js';
import type { WebhookConfig } from '../config/notifications.js';

/** A webhook with its secret read from secretFile (one trailing newline dropped). */
export interface Webhook extends WebhookConfig {
  readonly secret: Uint8Array;
}

/**
 * @throws ConfigError naming the webhook's key when its secret file cannot be read, is empty, or
 * may be read or written by group or others (whoever can read it can forge deliveries).
 */
export function loadWebhooks(webhooks: readonly WebhookConfig[]): Webhook[] {
  return webhooks.map((w, i) => {
    let text: Buffer;
    try {
      text = readPrivateFileSync(w.secretFile, `notifications.webhooks[${i}].secretFile (webhook ${w.name}) ${w.secretFile}`);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    let end = text.length;
    if (text[end - 1] === 0x0a) end--;
    if (text[end - 1] === 0x0d) end--;
    if (end === 0) throw new ConfigError(`notifications.webhooks[${i}].secretFile (webhook ${w.name}): ${w.secretFile} is empty`);
    return { ...w, secret: new Uint8Array(text.subarray(0, end)) };
  });
}
