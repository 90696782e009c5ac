import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

/** RFC 8555 §7.1.1 directory and §7.2 newNonce. */
export async function directoryRoutes(app: FastifyInstance, { urls, meta }: RouteContext): Promise<void> {
  const body = JSON.stringify({
    newNonce: urls.newNonce,
    newAccount: urls.newAccount,
    newOrder: urls.newOrder,
    revokeCert: urls.revokeCert,
    keyChange: urls.keyChange,
    renewalInfo: urls.renewalInfo,
    meta: {
      ...(meta.termsOfService ? { termsOfService: meta.termsOfService } : {}),
      ...(meta.website ? { website: meta.website } : {}),
      ...(meta.caaIdentities?.length ? { caaIdentities: meta.caaIdentities } : {}),
      ...(meta.profiles ? { profiles: meta.profiles } : {}),
      externalAccountRequired: meta.externalAccountRequired ?? false,
    },
  });
  app.get('/directory', async (_req, reply) => reply.type('application/json').send(body));

  // HEAD answers 200 and GET 204 (RFC 8555 §7.2); the nonce itself is added by the onSend hook.
  // Content-Length: 0 on HEAD (what GET's answer carries): without it Node's HTTP client does not
  // reuse the connection, and a client fetching nonces with HEAD made a TLS connection for each.
  app.head('/acme/new-nonce', { config: { newNonce: true } }, async (_req, reply) =>
    reply.code(200).header('Cache-Control', 'no-store').header('Content-Length', '0').send(),
  );
  app.get('/acme/new-nonce', { exposeHeadRoute: false, config: { newNonce: true } }, async (_req, reply) =>
    reply.code(204).header('Cache-Control', 'no-store').send(),
  );
}
