import { connect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boundRequestBodies } from './body-timeout.js';

const BOUND_MS = 300;

/** Everything the server writes until it closes the connection, or `untilMs` passes. */
function readAll(socket: Socket, untilMs: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(text), untilMs);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

describe('boundRequestBodies over a real socket', () => {
  let app: FastifyInstance;
  let port: number;

  beforeEach(async () => {
    app = Fastify();
    boundRequestBodies(app, BOUND_MS);
    app.get('/x', async () => 'got');
    app.post('/x', async (request) => `posted ${String(request.body).length}`);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterEach(() => app.close());

  it('cuts off a chunked body (no Content-Length) trickled slower than the bound with 408', async () => {
    const socket = connect(port, '127.0.0.1');
    const answer = readAll(socket, 5_000);
    socket.write('POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
    const trickle = setInterval(() => socket.write('1\r\na\r\n'), 100);
    try {
      expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  it('leaves bodiless requests and whole bodies alone, also on a connection kept past the bound', async () => {
    const socket = connect(port, '127.0.0.1');
    const answer = readAll(socket, BOUND_MS * 3);
    socket.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((r) => setTimeout(r, BOUND_MS * 2));
    socket.write('POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc');
    const text = await answer;
    socket.destroy();
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(text).toContain('got');
    expect(text).toContain('posted 3');
  });
});
