import { connect as netConnect, type Socket } from 'node:net';
import { request } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';

const IDLE_CONNECTIONS = 500;
const SLOW_HEADER_CONNECTIONS = 20;

let certmint: CertmintProcess;
beforeAll(async () => {
  certmint = await startCertmint({ config: { server: { headersTimeout: '2s', keepAliveTimeout: '2s' } } });
});
afterAll(async () => certmint?.stop());

const port = () => Number(new URL(certmint.baseUrl).port);

function get(path: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${certmint.baseUrl}${path}`, { ca: certmint.rootPem, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** Resolves when the server has closed the socket (the client never closes it first). */
const closedByServer = (socket: Socket | TLSSocket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

describe('slow and idle clients (slowloris)', () => {
  it(`holds ${IDLE_CONNECTIONS} idle connections and ${SLOW_HEADER_CONNECTIONS} that trickle headers, serves others meanwhile, and closes them all after server.headersTimeout`, async () => {
    // Connections that never start TLS, and TLS connections that send a header byte now and then.
    const idle = await Promise.all(
      Array.from({ length: IDLE_CONNECTIONS }, (_, i) => new Promise<Socket>((resolve, reject) => {
        // From ten loopback addresses: each holds fewer than server.maxConnectionsPerAddress (100).
        const s = netConnect({ port: port(), host: '127.0.0.1', localAddress: `127.0.10.${(i % 10) + 1}` }, () => resolve(s));
        s.once('error', reject);
      })),
    );
    const slow = await Promise.all(
      Array.from({ length: SLOW_HEADER_CONNECTIONS }, () => new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({ port: port(), host: '127.0.0.1', ca: certmint.rootPem, servername: 'localhost' }, () => resolve(s));
        s.once('error', reject);
      })),
    );
    const closed = [...idle, ...slow].map((s) => {
      s.on('error', () => undefined);
      return closedByServer(s);
    });
    const header = 'GET /directory HTTP/1.1\r\nHost: localhost\r\nX-Slow: ';
    let sent = 0;
    const trickle = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write(header[sent % header.length]!);
      sent += 1;
    }, 200);
    try {
      // While all of them are open, real requests are answered at once.
      for (const path of ['/directory', '/health', '/ready']) {
        const r = await get(path);
        expect(r.status, path).toBe(200);
        expect(r.ms, path).toBeLessThan(2_000);
      }
      // The server, not the clients, ends every one of them: headersTimeout (2 s) plus Node's 1 s check.
      const started = performance.now();
      await Promise.all(closed);
      expect(performance.now() - started).toBeLessThan(6_000);
    } finally {
      clearInterval(trickle);
      for (const s of [...idle, ...slow]) s.destroy();
    }
    expect((await get('/health')).status).toBe(200);
  });

  it('speaks TLS 1.2 and 1.3 only', async () => {
    const version = (maxVersion: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve) => {
        const s = tlsConnect(
          { port: port(), host: '127.0.0.1', ca: certmint.rootPem, servername: 'localhost', minVersion: 'TLSv1', maxVersion, ciphers: 'DEFAULT:@SECLEVEL=0' },
          () => {
            resolve(s.getProtocol() ?? 'none');
            s.destroy();
          },
        );
        s.once('error', (e) => resolve(`refused: ${e.message}`));
      });
    expect(await version('TLSv1.3')).toBe('TLSv1.3');
    expect(await version('TLSv1.2')).toBe('TLSv1.2');
    expect(await version('TLSv1.1')).toMatch(/^refused/);
  });
});
