import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST as the receiver got it, with its signature checked under the receiver's secret. */
export interface ReceivedWebhook {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: Record<string, unknown>;
  readonly signatureValid: boolean;
}

/** What the receiver does with the next requests. */
export type ReceiverMode = 'ok' | 'fail' | 'hang';

/**
 * A webhook receiver as a user writes one (docs/monitoring.md#notifications): checks
 * Certmint-Signature (HMAC-SHA256 of "<t>.<body>" under its secret) in constant time, records
 * what arrives; answers 204, or 500 ('fail'), or never ('hang'). close()/listen() take it down and up on its port.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  mode: ReceiverMode = 'ok';
  private server: Server | undefined;
  private port = 0;
  private readonly hanging = new Set<import('node:http').ServerResponse>();

  constructor(private readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (this.mode === 'hang') {
          this.hanging.add(res);
          return;
        }
        if (this.mode === 'fail') {
          res.writeHead(500).end('receiver broken');
          return;
        }
        this.received.push({ headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown>, signatureValid: verify(this.secret, req.headers, body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The receiver-side check of docs/monitoring.md. */
export function verify(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const header = String(headers['certmint-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}
