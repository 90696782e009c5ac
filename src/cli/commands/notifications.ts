import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { ConfigError, type Config } from '../../config/config.js';
import { processClock } from '../fake-clock.js';
import type { OutboxDelivery } from '../../ledger/ledger.js';
import { heloNameOf, loadSmtpRelay } from '../../notify/email-channel.js';
import { isMailboxAddress, testEmailMessage } from '../../notify/email-message.js';
import { postWebhook } from '../../notify/post-webhook.js';
import { sendMail } from '../../notify/smtp-client.js';
import { loadWebhooks } from '../../notify/secrets.js';
import { webhookRequest } from '../../notify/webhook-request.js';
import { readConfig, withLedger } from '../admin.js';
import { UsageError } from './certs.js';
import { deliveryJson } from '../../admin/notification-routes.js';

/** `certmint notifications list`: newest event first. */
export function listDeliveriesText(deliveries: readonly OutboxDelivery[], json: boolean): string {
  if (json) return `${JSON.stringify(deliveries.map(deliveryJson), null, 2)}\n`;
  if (deliveries.length === 0) return 'no deliveries\n';
  const rows = deliveries.map((d) => [
    d.event.deliveryId,
    d.event.type,
    d.event.subject,
    d.webhook,
    d.state,
    String(d.attempts),
    d.state === 'delivered' ? (d.deliveredAt?.toISOString() ?? '-') : d.state === 'pending' ? `next ${d.nextAttemptAt.toISOString()}` : '-',
    d.lastError ?? d.note ?? '',
  ]);
  // A delivered one's note (email: to whom, or why nothing was sent) shares the last column.
  const head = ['DELIVERY', 'EVENT', 'SUBJECT', 'WEBHOOK', 'STATE', 'ATTEMPTS', 'WHEN', 'LAST ERROR / NOTE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function registerNotificationCommands(program: Command): void {
  const n = program.command('notifications').description('webhook and email deliveries of the outbox (docs/monitoring.md#notifications)');
  n.command('list')
    .description('deliveries, newest event first')
    .option('--failed', 'only deliveries that gave up (maxAttempts reached)')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'JSON instead of a table')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: { failed?: boolean; limit: string; json?: boolean; config?: string }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, not ${o.limit}`);
      const text = await withLedger(readConfig(o.config), async (ledger) =>
        listDeliveriesText(await ledger.outbox.listDeliveries({ ...(o.failed ? { failed: true } : {}), limit }), o.json ?? false),
      );
      process.stdout.write(text);
    });
  n.command('retry [delivery]')
    .description('send a failed delivery again (by its Certmint-Delivery id), or every failed one with --failed')
    .option('--failed', 'every failed delivery')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (id: string | undefined, o: { failed?: boolean; config?: string }) => {
      if ((id === undefined) === (o.failed !== true)) throw new UsageError('give one delivery id or --failed');
      const count = await withLedger(readConfig(o.config), (ledger) => ledger.outbox.retryDeliveries(id === undefined ? {} : { deliveryId: id }, processClock().now()));
      if (id !== undefined && count === 0) throw new UsageError(`no failed delivery ${id} (see certmint notifications list --failed)`);
      process.stdout.write(`${count} ${count === 1 ? 'delivery' : 'deliveries'} pending again; a running certmint sends ${count === 1 ? 'it' : 'them'} within seconds\n`);
    });
  n.command('test')
    .description("send a certmint.test event to one webhook, or a test message through the SMTP relay, now (not through the outbox) and print the answer")
    .option('--webhook <name>', 'a name from notifications.webhooks')
    .option('--email <address>', 'mail a test message to this address through notifications.email.smtp')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: { webhook?: string; email?: string; config?: string }) => {
      if ((o.webhook === undefined) === (o.email === undefined)) throw new UsageError('give --webhook NAME or --email ADDRESS');
      const config = readConfig(o.config);
      if (o.email !== undefined) return testEmail(config, o.email);
      if (o.webhook === undefined) return;
      const configured = config.notifications.webhooks.find((w) => w.name === o.webhook);
      if (!configured) {
        const names = config.notifications.webhooks.map((w) => w.name);
        throw new ConfigError(`no webhook named ${o.webhook} in notifications.webhooks (${names.length > 0 ? names.join(', ') : 'none configured'})`);
      }
      const [webhook] = loadWebhooks([configured]);
      const now = processClock().now();
      const event = { deliveryId: randomUUID(), type: 'certmint.test' as const, subject: `webhook:${webhook!.name}`, payload: { webhook: webhook!.name }, createdAt: now };
      const answer = await postWebhook(webhook!.url, webhookRequest(event, webhook!.format, webhook!.secret, now, config.server.baseUrl), config.notifications.timeoutMs);
      const status = answer.status === undefined ? '' : `HTTP ${answer.status}`;
      process.stdout.write(`${answer.ok ? 'delivered' : `failed: ${answer.error}`}${status && !answer.ok ? '' : status ? ` (${status})` : ''}\n${answer.body ? `${answer.body}\n` : ''}`);
      if (!answer.ok) process.exitCode = 1;
    });
}

/** `notifications test --email`: one message through the relay, the relay's last answer printed. */
async function testEmail(config: Config, address: string): Promise<void> {
  const email = config.notifications.email;
  if (!email) throw new ConfigError('notifications.email is off: set notifications.email.from and notifications.email.smtp.host');
  if (!isMailboxAddress(address)) throw new UsageError(`--email: "${address}" is not a plain address (local@domain.example)`);
  const relay = loadSmtpRelay(email, heloNameOf(config.server.baseUrl));
  const now = processClock().now();
  const data = testEmailMessage({ from: email.from, to: address, now, deliveryId: randomUUID(), baseUrl: config.server.baseUrl });
  const outcome = await sendMail(relay, { from: email.from, to: [address], data }, config.notifications.timeoutMs);
  if (outcome.ok && outcome.accepted.length > 0) {
    process.stdout.write(`delivered to the relay ${relay.host}:${relay.port} (${outcome.reply})\n`);
  } else {
    process.stdout.write(`failed: ${outcome.ok ? outcome.rejected.join('; ') : outcome.error}\n`);
    process.exitCode = 1;
  }
}
