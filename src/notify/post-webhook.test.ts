import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ANSWER_CAP_BYTES, postWebhook } from './post-webhook.js';

// One attempt against real HTTP servers on 127.0.0.1 that misbehave in the ways a receiver can.
let server: Server | undefined;
const open = new Set<ServerResponse>();
let hits: string[] = [];

async function serve(handler: (path: string, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    open.add(res);
    req.resume();
    req.on('end', () => handler(req.url ?? '', res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const res of open) res.destroy();
  open.clear();
  hits = [];
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const request = { body: '{}', headers: { 'content-type': 'application/json' } };

describe('postWebhook', () => {
  it('a redirect is not followed: the attempt fails and the target is never asked', async () => {
    const base = await serve((path, res) => {
      if (path === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(204).end();
    });
    expect(await postWebhook(`${base}/hook`, request, 30_000)).toMatchObject({ ok: false, status: 302, error: 'HTTP 302 (redirects are not followed)' });
    expect(hits).toEqual(['/hook']);
  });

  it('an answer that never ends is read up to the cap, and the attempt ends there rather than at the timeout', async () => {
    const base = await serve((_path, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('x'.repeat(3 * ANSWER_CAP_BYTES)); // and never end()
    });
    const answer = await postWebhook(`${base}/hook`, request, 60_000);
    expect(answer).toMatchObject({ ok: true, status: 200 });
    expect(answer.ok && answer.body.length).toBe(ANSWER_CAP_BYTES);
  }, 120_000);

  it('a receiver that hangs costs the timeout, named in the error', async () => {
    const base = await serve(() => undefined);
    expect(await postWebhook(`${base}/hook`, request, 300)).toEqual({ ok: false, error: 'no answer within 300 ms' });
  });

  it('no listener: the error names the refusal; 5xx: its status and the start of its body', async () => {
    const base = await serve((_path, res) => res.writeHead(503).end('maintenance'));
    expect(await postWebhook(`${base}/hook`, request, 30_000)).toEqual({ ok: false, status: 503, body: 'maintenance', error: 'HTTP 503' });
    const port = (server!.address() as AddressInfo).port;
    server!.closeAllConnections();
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    expect(await postWebhook(`http://127.0.0.1:${port}/hook`, request, 30_000)).toEqual({ ok: false, error: 'fetch failed: ECONNREFUSED' });
  });
});
