import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A client's side of http-01: serves key authorizations under /.well-known/acme-challenge/. */
export interface Http01Responder {
  readonly port: number;
  set(token: string, keyAuthorization: string): void;
  stop(): Promise<void>;
}

export async function startHttp01Responder(host = '127.0.0.1', port = 0): Promise<Http01Responder> {
  const answers = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const answer = m ? answers.get(m[1]!) : undefined;
    if (answer === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    set: (token, keyAuthorization) => answers.set(token, keyAuthorization),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
