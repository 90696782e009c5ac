import { createRequire } from 'node:module';
import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config/config.js';
import { connectionBounds } from './composition.js';
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
 * What every listener of serve shares: HTTPS with the server's certificate (or plain HTTP without
 * it), the connection bounds of server.*, the logger without a line per request (one would cost
 * more than the request itself under load) and with request loggers made only when they write,
 * and schema compilers loaded only if ever needed.
 */
export function listenerOptions(config: Config, log: FastifyBaseLogger, tls: { key: string | Buffer; cert: string | Buffer } | undefined) {
  return {
    https: tls ? { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' as const, handshakeTimeout: config.server.headersTimeoutMs, ...connectionBounds(config) } : null,
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
 * server.maxConnections and server.maxConnectionsPerAddress on a listener: the HTTPS one and the
 * plain-HTTP publication one each get them.
 */
export function boundConnections(app: FastifyInstance, config: Config): void {
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
