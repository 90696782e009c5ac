import { createRequire } from 'node:module';
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config/config.js';
import { connectionBounds } from './composition.js';
import { WholeHttp2Response } from './http2-response.js';
import { capConnectionsPerAddress } from './connections-per-address.js';
import { lazyChildLoggers } from './lazy-child-logger.js';

/**
 * fastify loads ajv and fast-json-stringify to build its schema compilers when an instance is made,
 * unless it is given factories. certmint's routes declare no JSON schemas (payloads are checked once
 * where they enter: acme/jws.ts and the use cases), so loading them at start-up bought nothing but
 * ~0.1 s of the server's start (issue 27). Should a route ever declare a schema, the real compilers
 * are loaded then, by the same packages fastify would have used.
 */
const load = createRequire(import.meta.url);
type CompilerFactory = (...args: unknown[]) => unknown;
const loadedWhenCalled = (pkg: string): CompilerFactory => (...args) => (load(pkg) as () => CompilerFactory)()(...args);
type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
export const LAZY_SCHEMA_COMPILERS = {
  buildValidator: loadedWhenCalled('@fastify/ajv-compiler'),
  buildSerializer: loadedWhenCalled('@fastify/fast-json-stringify-compiler'),
} as unknown as CompilersFactory;

/**
 * HTTP/2 streams one connection may carry at once (SETTINGS_MAX_CONCURRENT_STREAMS; Go's server
 * advertises 250, nginx 128). Kept small on purpose: a client with more requests in flight opens
 * another connection (Go's transport does, unless StrictMaxConcurrentStreams), so one busy client
 * such as cert-manager is spread over several connections, and with server.workers over several
 * workers, instead of pinning all its load to the one worker its first connection reached.
 */
export const HTTP2_MAX_CONCURRENT_STREAMS = 8;

/**
 * Streams one HTTP/2 connection may carry before the server ends it gracefully (GOAWAY NO_ERROR
 * naming the last stream it took; those finish, and the client opens a new connection for the
 * next), as nginx's keepalive_requests does. Below nghttp2's stream-reset allowance (CVE-2023-44487's
 * rapid-reset defence: a burst of 1,000 RST_STREAMs per session, refilled 33 per second, counted even
 * for streams already answered), so that no client can reach it: past it nghttp2 ends the session
 * with GOAWAY INTERNAL_ERROR and refuses streams Node had already handed to the application, which
 * the client then sends again (RFC 9113 §8.7): a finalize twice, "orderNotReady". Go's client met it
 * when it reset ~70 % of its streams (before WholeHttp2Response); a client that abandons its requests
 * would still. The margin below 1,000 covers resets of streams the server refused itself. Costs one
 * handshake per 900 requests; with server.workers it also lets a busy client's next connection land
 * on another worker.
 */
export const HTTP2_MAX_STREAMS_PER_SESSION = 900;

/**
 * What every listener of serve shares: HTTPS with the server's certificate (or plain HTTP without
 * it), the connection bounds of server.*, the logger without a line per request (one would cost
 * more than the request itself under load) and with request loggers made only when they write,
 * and schema compilers loaded only if ever needed.
 *
 * `http2` (the ACME listener with server.http2): ALPN offers h2 before http/1.1. A client on Go's
 * default transport then multiplexes on a connection or a few; over HTTP/1.1 Go's pool dials a new
 * connection whenever no idle one is free and closes those it cannot keep, so a busy client pays a
 * TLS handshake every few requests. Node 20's HTTP/2 costs more per request than its HTTP/1.1, so
 * `auto` offers it only with several workers, where those handshakes are many (docs/scale-out.md#http2). HTTP/1.1 clients are served as before, with the same
 * bounds (http2Bounds). No h2c: without TLS there is no ALPN to offer it with.
 */
export function listenerOptions(
  config: Config,
  log: FastifyBaseLogger,
  tls: { key: string | Buffer; cert: string | Buffer } | undefined,
  { http2 = false }: { http2?: boolean } = {},
) {
  const h2 = tls !== undefined && http2;
  return {
    ...(h2 ? { http2: true as const, http2SessionTimeout: config.server.keepAliveTimeoutMs } : {}),
    https: tls
      ? {
          key: tls.key,
          cert: tls.cert,
          minVersion: 'TLSv1.2' as const,
          handshakeTimeout: config.server.headersTimeoutMs,
          ...(h2
            ? { allowHTTP1: true, settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS }, Http2ServerResponse: WholeHttp2Response }
            : connectionBounds(config)),
        }
      : null,
    ...(tls ? {} : { http: connectionBounds(config) }),
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    requestTimeout: config.server.requestTimeoutMs,
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLoggers,
    schemaController: { compilersFactory: LAZY_SCHEMA_COMPILERS },
  };
}

/**
 * An HTTP/2 listener's own bounds, before it listens. Its HTTP/1.1 connections (allowHTTP1) are
 * served by node:http's connection handling, which reads the timeouts from the server object: the
 * HTTP/2 server has its own defaults (headers 60 s, request 300 s, keep-alive none), so server.*
 * is copied onto it as an HTTP/1.1 listener gets it. A session is closed gracefully after
 * HTTP2_MAX_STREAMS_PER_SESSION streams, and every session (GOAWAY; streams in flight finish) when
 * the app closes: fastify closes them only when it may also
 * destroy busy HTTP/1.1 connections (forceCloseConnections), which would break serve's drain.
 */
function http2Bounds(app: FastifyInstance, config: Config): void {
  if (!app.initialConfig.http2) return;
  const server = app.server as unknown as Http2SecureServer;
  Object.assign(server, connectionBounds(config));
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    let streams = 0;
    session.on('stream', () => {
      if (++streams === HTTP2_MAX_STREAMS_PER_SESSION) session.close();
    });
  });
  app.addHook('preClose', (done) => {
    for (const session of sessions) session.close();
    done();
  });
}

/**
 * server.maxConnections and server.maxConnectionsPerAddress on a listener: the HTTPS one and the
 * plain-HTTP publication one each get them.
 */
export function boundConnections(app: FastifyInstance, config: Config): void {
  http2Bounds(app, config);
  if (config.server.maxConnections > 0) app.server.maxConnections = config.server.maxConnections;
  if (config.server.maxConnectionsPerAddress > 0) {
    // Before TLS: a connection over the cap costs no handshake. A trusted proxy carries every client
    // behind it; it is left to maxConnections (and to the proxy's own per-client limits).
    capConnectionsPerAddress(app.server, {
      max: config.server.maxConnectionsPerAddress,
      exempt: config.server.trustedProxies,
      onRefused: (refused, address) =>
        app.log.warn({ refused, address }, `closed connections beyond server.maxConnectionsPerAddress (${config.server.maxConnectionsPerAddress}) from one client address`),
    });
  }
}

/** Which worker answered (/health and /ready are each worker's own; a test sees them spread). */
export function tellWorker(app: FastifyInstance, id: number): void {
  const value = String(id);
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('certmint-worker', value);
    return payload;
  });
}
