import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { freePort } from '../../test/support/ports.js';

// RFC 8555 §7.2 over a real socket: a client that fetches nonces with HEAD on a keep-alive agent
// (acme-client through axios on Node ≥ 19) keeps its connection. Node's HTTP client does not
// reuse a connection after a HEAD answer without Content-Length: every nonce was a new connection
// (over TLS, a new handshake). The HEAD answer says Content-Length: 0, what GET's 204 carries.
let t: TestAcmeApp;

beforeAll(async () => {
  const port = await freePort();
  t = await startTestAcmeApp({ baseUrl: `http://127.0.0.1:${port}` });
  await t.app.listen({ host: '127.0.0.1', port });
});
afterAll(async () => t?.close());

/** `count` requests one after another through one keep-alive agent: the sockets they used, and the answers. */
async function nonces(method: 'HEAD' | 'GET', count: number) {
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const answers: { status: number; length: string | undefined; nonce: string | undefined }[] = [];
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${t.baseUrl}/acme/new-nonce`, { method, agent }, (res) => {
          sockets.add(res.socket);
          answers.push({ status: res.statusCode ?? 0, length: res.headers['content-length'], nonce: res.headers['replay-nonce'] as string | undefined });
          res.resume();
          res.once('end', resolve);
        });
        req.once('error', reject);
        req.end();
      });
    }
  } finally {
    agent.destroy();
  }
  return { sockets: sockets.size, answers };
}

describe('newNonce over a keep-alive connection', () => {
  it('answers HEAD with 200, Content-Length: 0 and a nonce, five times on one connection', async () => {
    const { sockets, answers } = await nonces('HEAD', 5);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => a.length)).toEqual(['0', '0', '0', '0', '0']);
    expect(new Set(answers.map((a) => a.nonce)).size).toBe(5);
    expect(sockets).toBe(1);
  });

  it('answers GET with 204 and no Content-Length (RFC 9110 §8.6), on one connection', async () => {
    const { sockets, answers } = await nonces('GET', 5);
    expect(answers.map((a) => a.status)).toEqual([204, 204, 204, 204, 204]);
    expect(answers.every((a) => a.length === undefined && a.nonce !== undefined)).toBe(true);
    expect(sockets).toBe(1);
  });
});
