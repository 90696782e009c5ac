import type { FastifyInstance } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { reasonName } from '../../ra/revocation.js';
import { verified, type RouteContext } from '../context.js';

/** RFC 8555 §7.6 revokeCert, signed by an account (kid) or by the certificate's key (jwk). */
export async function revocationRoutes(app: FastifyInstance, { ra }: RouteContext): Promise<void> {
  app.post('/acme/revoke-cert', { config: { jws: 'either' } }, async (request, reply) => {
    const v = verified(request);
    if (!v.payload) throw new AcmeProblem('malformed', 'revokeCert needs a payload with "certificate"');
    const who = v.account
      ? ({ kind: 'account', account: v.account } as const)
      : ({ kind: 'certificate-key', jwk: v.jwk! } as const);
    const revoked = await ra.revokeCertificate(v.payload.certificate, v.payload.reason, who);
    request.log.info(
      { serial: revoked.serial, reason: reasonName(revoked.revocationReason ?? 0), by: who.kind, certificateAccount: revoked.accountId },
      'certificate revoked',
    );
    return reply.code(200).send();
  });
}
