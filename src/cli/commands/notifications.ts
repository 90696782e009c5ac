import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { ConfigError } from '../../config/config.js';
import { systemClock } from '../../core/clock.js';
import type { OutboxDelivery } from '../../ledger/ledger.js';
import { postWebhook } from '../../notify/post-webhook.js';
import { loadWebhooks } from '../../notify/secrets.js';
import { webhookRequest } from '../../notify/webhook-request.js';
import { readConfig, withLedger } from '../admin.js';
import { UsageError } from './certs.js';

function describe(d: OutboxDelivery) {
  return {
    delivery: d.event.deliveryId,
    type: d.event.type,
    subject: d.event.subject,
    webhook: d.webhook,
    state: d.state,
    attempts: d.attempts,
    createdAt: d.event.createdAt.toISOString(),
    nextAttemptAt: d.state === 'pending' ? d.nextAttemptAt.toISOString() : null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    lastError: d.lastError ?? null,
  };
}

/** `certmint notifications list`: newest event first. */
export function listDeliveriesText(deliveries: readonly OutboxDelivery[], json: boolean): string {
  if (json) return `${JSON.stringify(deliveries.map(describe), null, 2)}\n`;
  if (deliveries.length === 0) return 'no deliveries\n';
  const rows = deliveries.map((d) => [
    d.event.deliveryId,
    d.event.type,
    d.event.subject,
    d.webhook,
    d.state,
    String(d.attempts),
    d.state === 'delivered' ? (d.deliveredAt?.toISOString() ?? '-') : d.state === 'pending' ? `next ${d.nextAttemptAt.toISOString()}` : '-',
    d.lastError ?? '',
  ]);
  const head = ['DELIVERY', 'EVENT', 'SUBJECT', 'WEBHOOK', 'STATE', 'ATTEMPTS', 'WHEN', 'LAST ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function registerNotificationCommands(program: Command): void {
  const n = program.command('notifications').description('webhook deliveries of the outbox (docs/monitoring.md#notifications)');
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
      const count = await withLedger(readConfig(o.config), (ledger) => ledger.outbox.retryDeliveries(id === undefined ? {} : { deliveryId: id }, systemClock.now()));
      if (id !== undefined && count === 0) throw new UsageError(`no failed delivery ${id} (see certmint notifications list --failed)`);
      process.stdout.write(`${count} ${count === 1 ? 'delivery' : 'deliveries'} pending again; a running certmint sends ${count === 1 ? 'it' : 'them'} within seconds\n`);
    });
  n.command('test')
    .description("send a certmint.test event to one webhook now (not through the outbox) and print the receiver's answer")
    .requiredOption('--webhook <name>', 'a name from notifications.webhooks')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (o: { webhook: string; config?: string }) => {
      const config = readConfig(o.config);
      const configured = config.notifications.webhooks.find((w) => w.name === o.webhook);
      if (!configured) {
        const names = config.notifications.webhooks.map((w) => w.name);
        throw new ConfigError(`no webhook named ${o.webhook} in notifications.webhooks (${names.length > 0 ? names.join(', ') : 'none configured'})`);
      }
      const [webhook] = loadWebhooks([configured]);
      const now = systemClock.now();
      const event = { deliveryId: randomUUID(), type: 'certmint.test' as const, subject: `webhook:${webhook!.name}`, payload: { webhook: webhook!.name }, createdAt: now };
      const answer = await postWebhook(webhook!.url, webhookRequest(event, webhook!.format, webhook!.secret, now, config.server.baseUrl), config.notifications.timeoutMs);
      const status = answer.status === undefined ? '' : `HTTP ${answer.status}`;
      process.stdout.write(`${answer.ok ? 'delivered' : `failed: ${answer.error}`}${status && !answer.ok ? '' : status ? ` (${status})` : ''}\n${answer.body ? `${answer.body}\n` : ''}`);
      if (!answer.ok) process.exitCode = 1;
    });
}
