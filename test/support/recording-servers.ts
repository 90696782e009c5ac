import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';

// Real HTTP(S) servers for validation tests, recording what they were asked and which sockets are
// open; closeRecordingServers() (in afterEach) closes every one started.

export interface TestServer {
  readonly port: number;
  readonly requests: { url: string; headers: IncomingHttpHeaders }[];
  readonly sockets: Set<Socket>;
}

const servers: Server[] = [];

/** A real HTTP server on host:0 that records what it was asked. */
export async function serve(handler: RequestListener, host = '127.0.0.1', port = 0): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  return listen(server, host, port, requests, sockets);
}

export async function listen(
  server: Server,
  host: string,
  port: number,
  requests: TestServer['requests'],
  sockets: Set<Socket>,
): Promise<TestServer> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  servers.push(server);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, requests, sockets };
}

export function allClosed(sockets: Set<Socket>): Promise<unknown> {
  return Promise.all([...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve))));
}

/** Closes every server started since the last call, dropping their connections. */
export async function closeRecordingServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
}
