import type { FastifyInstance } from 'fastify';
import { requirePostAsGet, signer, type RouteContext } from '../context.js';

/** RFC 8555 §7.4.2 certificate download. */
export async function certificateRoutes(app: FastifyInstance, { ra }: RouteContext): Promise<void> {
  app.post<{ Params: { serial: string } }>('/acme/cert/:serial', { config: { jws: 'kid' } }, async (request, reply) => {
    requirePostAsGet(request, 'a certificate');
    const pem = await ra.certificateChainPem(signer(request), request.params.serial);
    return reply.type('application/pem-certificate-chain').send(pem);
  });
}
