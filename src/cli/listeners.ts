import { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { connectionBounds } from './composition.js';
import { capConnectionsPerAddress } from './connections-per-address.js';

/**
 * What every listener of serve shares: HTTPS with the server's certificate (or plain HTTP without
 * it), the connection bounds of server.*, and the logger without a line per request (one would
 * cost more than the request itself under load).
 */
export function listenerOptions(config: Config, log: FastifyBaseLogger, tls: { key: string | Buffer; cert: string | Buffer } | undefined) {
  return {
    https: tls ? { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' as const, handshakeTimeout: config.server.headersTimeoutMs, ...connectionBounds(config) } : null,
    ...(tls ? {} : { http: connectionBounds(config) }),
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    requestTimeout: config.server.requestTimeoutMs,
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
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
