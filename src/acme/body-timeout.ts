import type { FastifyInstance, FastifyRequest } from 'fastify';
import { constants as http2, type Http2ServerRequest } from 'node:http2';
import { AcmeProblem } from '../core/problem.js';

/**
 * Bounds the time a request body may take once its headers have arrived. Node's requestTimeout
 * bounds headers and body together and is long (60 s by default) so that slow networks can send
 * headers; a client trickling a body byte by byte held its connection (and a slot of
 * server.maxConnections) for all of it. Request bodies here are JWS of at most bodyLimit (64 kB).
 *
 * The clock stops when the body has arrived: what the handler does after (a challenge POST waits
 * up to validation.answerWithin for its validation) is not counted, as with requestTimeout.
 * A body still arriving when the bound passes gets 408 with a problem document and the
 * connection is closed, as Node does for requestTimeout. The problem carries a fresh Replay-Nonce
 * like every other (RFC 8555 §6.5), when `issueNonce` gives one.
 *
 * Over HTTP/2 only the request's stream is ended, never the connection other streams share: the
 * 408 ends the response, then RST_STREAM NO_ERROR asks the client to stop sending the body
 * (RFC 9113 §8.1: a complete response before the whole request); HTTP/2 has no Connection header.
 */
export function boundRequestBodies(app: FastifyInstance, bodyTimeoutMs: number, issueNonce?: () => Promise<string>): void {
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    // A request without a body has nothing to wait for. Over HTTP/1.1 that is one without
    // Content-Length or Transfer-Encoding (RFC 9112 §6.3; `complete` is still false while its
    // handlers run: Node marks it after the 'request' event), over HTTP/2 one whose HEADERS ended
    // the stream. Every GET and HEAD skips the timer and its two listeners (issue 27).
    if (raw.complete || !bodyExpected(raw)) {
      done();
      return;
    }
    const timer = setTimeout(() => {
      if (raw.complete) return;
      // Fastify must not answer too when the body's stream then fails.
      reply.hijack();
      const res = reply.raw;
      const stream = raw.httpVersionMajor === 2 ? (raw as unknown as Http2ServerRequest).stream : undefined;
      const close = stream ? (code: number) => stream.close(code) : () => raw.socket.destroy();
      if (res.headersSent) {
        close(http2.NGHTTP2_CANCEL);
        return;
      }
      const problem = new AcmeProblem('malformed', `the request body did not arrive within ${bodyTimeoutMs} ms of its headers; send it at once`, { status: 408 });
      const body = JSON.stringify(problem.toDocument());
      const send = (nonce: string | undefined) => {
        if (res.headersSent || (stream ? stream.closed : raw.socket.destroyed)) return;
        res.writeHead(408, {
          'Content-Type': 'application/problem+json',
          'Content-Length': Buffer.byteLength(body),
          ...(stream ? {} : { Connection: 'close' }),
          ...(nonce !== undefined ? { 'Replay-Nonce': nonce } : {}),
        });
        res.end(body, () => close(http2.NGHTTP2_NO_ERROR));
      };
      // A ledger that cannot give a nonce now still gets the slow body cut off.
      if (issueNonce) issueNonce().then(send, () => send(undefined));
      else send(undefined);
    }, bodyTimeoutMs);
    const stop = () => clearTimeout(timer);
    raw.once('end', stop);
    raw.once('close', stop);
    done();
  });
}

function bodyExpected(raw: FastifyRequest['raw']): boolean {
  if (raw.httpVersionMajor === 2) return !(raw as unknown as Http2ServerRequest).stream.endAfterHeaders;
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
