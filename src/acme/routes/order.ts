import type { FastifyInstance } from 'fastify';
import { requirePostAsGet, signer, verified, type RouteContext } from '../context.js';
import { retryAfterWhileInProgress } from '../retry-after.js';
import { orderBody } from '../serialize.js';

/** RFC 8555 §7.4 newOrder, the order resource and finalize. */
export async function orderRoutes(app: FastifyInstance, { ra, urls }: RouteContext): Promise<void> {
  app.post('/acme/new-order', { config: { jws: 'kid' } }, async (request, reply) => {
    const view = await ra.newOrder(signer(request), verified(request).payload);
    return retryAfterWhileInProgress(reply.code(201).header('Location', urls.order(view.order.id)), view.state.status).send(orderBody(view, urls));
  });

  app.post<{ Params: { id: string } }>('/acme/order/:id', { config: { jws: 'kid' } }, async (request, reply) => {
    request.log = request.log.child({ order: request.params.id });
    requirePostAsGet(request, 'an order');
    const view = await ra.getOrder(signer(request), request.params.id);
    return retryAfterWhileInProgress(reply.header('Location', urls.order(view.order.id)), view.state.status).send(orderBody(view, urls));
  });

  app.post<{ Params: { id: string } }>('/acme/order/:id/finalize', { config: { jws: 'kid' } }, async (request, reply) => {
    request.log = request.log.child({ order: request.params.id });
    const view = await ra.finalizeOrder(signer(request), request.params.id, verified(request).payload);
    const { certificateSerial, profile, identifiers } = view.order;
    request.log.info({ serial: certificateSerial, profile: profile ?? 'default', names: identifiers.length }, 'certificate issued');
    // 200 with the order already valid and Location of the order (CLIENT-NOTES: no client polls).
    return retryAfterWhileInProgress(reply.header('Location', urls.order(view.order.id)), view.state.status).send(orderBody(view, urls));
  });
}
