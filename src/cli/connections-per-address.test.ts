import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { capConnectionsPerAddress } from './connections-per-address.js';

// A real listener on "::" (as the default server.listen "[::]:8443"): IPv4 clients arrive as
// ::ffff:a.b.c.d and must count, and be exempted, as a.b.c.d.

let server: Server | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function listen(): Promise<{ server: Server; port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  server = createServer((s) => accepted.push(s));
  await new Promise<void>((resolve) => server!.listen(0, '::', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, accepted };
}

/** Connects from `localAddress`; resolves with whether the server kept the connection (it answers nothing). */
async function connectFrom(port: number, localAddress: string): Promise<Socket> {
  const s = await new Promise<Socket>((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
  s.on('error', () => undefined);
  clients.push(s);
  return s;
}

describe('capConnectionsPerAddress', () => {
  it('counts IPv4 clients of a "::" listener by their IPv4 address, closes the excess before any other listener sees it, and forgets an address once its connections close', async () => {
    const { server, port, accepted } = await listen();
    const cap = capConnectionsPerAddress(server, { max: 3, exempt: [] });
    const kept = [await connectFrom(port, '127.0.0.21'), await connectFrom(port, '127.0.0.21'), await connectFrom(port, '127.0.0.21')];
    const excess = await connectFrom(port, '127.0.0.21');
    await new Promise<void>((resolve) => excess.once('close', () => resolve()));
    // The server's own 'connection' listener never saw the destroyed one.
    await connectFrom(port, '127.0.0.22');
    expect(accepted.map((s) => s.remoteAddress)).toEqual(['::ffff:127.0.0.21', '::ffff:127.0.0.21', '::ffff:127.0.0.21', '::ffff:127.0.0.22']);
    expect(cap.open('127.0.0.21')).toBe(3);
    expect(cap.open('::ffff:127.0.0.21')).toBe(3);
    for (const s of kept) s.destroy();
    await Promise.all(accepted.slice(0, 3).map((s) => (s.closed ? undefined : new Promise((resolve) => s.once('close', resolve)))));
    expect(cap.open('127.0.0.21')).toBe(0);
    expect(cap.addresses).toBe(1);
    expect(server.listenerCount('connection')).toBe(1);
  });

  it('leaves addresses in the exempt networks (server.trustedProxies) uncounted', async () => {
    const { server, port, accepted } = await listen();
    const cap = capConnectionsPerAddress(server, { max: 1, exempt: ['127.0.0.0/24'] });
    for (let i = 0; i < 5; i++) await connectFrom(port, '127.0.0.23');
    await connectFrom(port, '127.0.1.1');
    await connectFrom(port, '127.0.0.24');
    expect(accepted).toHaveLength(7);
    expect(cap.open('127.0.0.23')).toBe(0);
    expect(cap.open('127.0.1.1')).toBe(1);
  });
});
