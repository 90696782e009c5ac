import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: listen on port 0, read what the
 * kernel picked, close. Another process may take it before the caller binds it, so callers
 * that spawn servers should retry on "address in use".
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('listening socket has no port'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** Below Linux's default ephemeral range (ip_local_port_range 32768-60999): see freeFixedPort. */
const FIXED_PORTS = { from: 20_000, to: 32_000 } as const;

/**
 * A TCP port on 127.0.0.1, free a moment ago, outside the kernel's ephemeral range: for a port
 * that must be named long before it is bound (a proxy's address goes into the config of the
 * servers started behind it first). A port from freePort() sits in the ephemeral range, where any
 * outgoing connection made in between (a database pool, an HTTP client) can take it: seen as
 * haproxy's "Address already in use" seconds later.
 */
export async function freeFixedPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = FIXED_PORTS.from + Math.floor(Math.random() * (FIXED_PORTS.to - FIXED_PORTS.from));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${FIXED_PORTS.from} and ${FIXED_PORTS.to} in 50 tries`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
