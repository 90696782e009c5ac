import type { FastifyInstance, onResponseHookHandler } from 'fastify';

/** What the HTTP layer reports and serves for monitoring; cli/ binds it to a Prometheus registry. */
export interface HttpMetrics {
  /**
   * One answered request. Called on every response, so it only counts: `route` is the route
   * pattern ("/acme/order/:id"), never the raw URL, so label values stay few.
   */
  requestFinished(route: string, method: string, statusCode: number, seconds: number): void;
  /** One connection accepted by the listener (over TLS, each one a full handshake). */
  connectionAccepted(): void;
  /** Everything measured, in the Prometheus text exposition format. */
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Requests that matched no route share one label value instead of one per URL probed. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every request of `app` (a root hook, so encapsulated plugins are timed too) and counts the
 * connections its server accepts: a client that does not keep its connections (Go's HTTP/1.1 pool
 * racing its dials under load, issue 27) shows as many connections per request, each a handshake.
 */
export function observeRequests(app: FastifyInstance, metrics: HttpMetrics): void {
  app.server.on('connection', () => metrics.connectionAccepted());
  // Each route's pattern goes to a hook of its own when the route is added (a root onRoute hook sees
  // the routes of every plugin registered after it): no request reads routeOptions for it (fastify
  // builds that object on every read; issue 27).
  app.addHook('onRoute', (route) => {
    const pattern = route.url;
    const onResponse: onResponseHookHandler = (request, reply, done) => {
      metrics.requestFinished(pattern, request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = route.onResponse === undefined ? onResponse : [...[route.onResponse].flat(), onResponse];
  });
  // The answers of no route: the not-found handler's, and those to URLs the router refused.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) metrics.requestFinished(UNMATCHED_ROUTE, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

/** GET /metrics for Prometheus, next to /health and /ready. */
export async function metricsRoutes(app: FastifyInstance, { metrics }: { readonly metrics: HttpMetrics }): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });
}
