import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A client's side of http-01: serves key authorizations under /.well-known/acme-challenge/. */
export interface Http01Responder {
  readonly port: number;
  set(token: string, keyAuthorization: string): void;
  /**
   * Holds every answer until `count` requests are waiting, then answers them all: a validator
   * that fetched one at a time would never get there.
   */
  answerTogether(count: number): void;
  /** Holds every answer until the returned function is called. */
  hold(): () => void;
  /** Requests received so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

export async function startHttp01Responder(host = '127.0.0.1', port = 0): Promise<Http01Responder> {
  const answers = new Map<string, string>();
  let requests = 0;
  let together = 0;
  let held = false;
  const waiting: (() => void)[] = [];
  const releaseAll = (): void => {
    for (const answer of waiting.splice(0)) answer();
  };
  const server: Server = createServer((req, res) => {
    requests++;
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const answer = (): void => {
      const body = m ? answers.get(m[1]!) : undefined;
      if (body === undefined) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    };
    if (!held && together === 0) {
      answer();
      return;
    }
    waiting.push(answer);
    if (together > 0 && waiting.length >= together) {
      together = 0;
      releaseAll();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    set: (token, keyAuthorization) => answers.set(token, keyAuthorization),
    answerTogether: (count) => {
      together = count;
    },
    hold: () => {
      held = true;
      return () => {
        held = false;
        releaseAll();
      };
    },
    get requests() {
      return requests;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
