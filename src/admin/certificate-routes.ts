import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { AcmeProblem } from '../core/problem.js';
import type { LedgerReader } from '../ledger/ledger.js';
import type { AdminPrincipal } from '../ra/admin-certificates.js';
import type { CertificateRecord } from '../ledger/records.js';
import { requireOperator } from '../ra/admin-tokens.js';
import { derToPem, leafAndChainPem } from '../ra/certificates.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import { certificateDetailJson, serialOf } from './certificate-views.js';

export interface CertificateRoutesOptions {
  readonly ra: Pick<RegistrationAuthority, 'renewEarly'>;
  readonly ledger: LedgerReader;
  readonly clock: Clock;
}

type SerialRequest = FastifyRequest<{ Params: { serial: string } }>;

async function certificateOf(ledger: LedgerReader, input: string): Promise<CertificateRecord> {
  const serial = serialOf(input);
  const cert = await ledger.getCertificate(serial);
  if (!cert) throw new AcmeProblem('malformed', `no certificate with serial ${serial} in this ledger`, { status: 404 });
  return cert;
}

/** A file download: the browser saves it under the serial's name instead of showing it. */
function attachment(reply: FastifyReply, type: string, filename: string, body: string): FastifyReply {
  return reply.type(type).header('Content-Disposition', `attachment; filename="${filename}"`).send(body);
}

/** The optional body of renew-early: `{"explanationUrl": "https://…"}`, as `certs renew-early --explanation` takes it. */
export function explanationUrlOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw new AcmeProblem('malformed', 'the body must be a JSON object such as {"explanationUrl": "https://…"}, or empty');
  const { explanationUrl, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new AcmeProblem('malformed', `unknown member ${JSON.stringify(unknown[0])}: the body takes only "explanationUrl"`);
  if (explanationUrl === undefined) return undefined;
  if (typeof explanationUrl !== 'string') throw new AcmeProblem('malformed', 'explanationUrl must be a string (an https URL)');
  return explanationUrl;
}

/**
 * GET /certificates/:serial/pem and /chain (the files an operator hands to a service by hand: the
 * chain is what the ACME certificate URL serves), and POST /certificates/:serial/renew-early, the
 * use case of `certmint certs renew-early`, audited as admin:<name>.
 */
export async function certificateRoutes(app: FastifyInstance, o: CertificateRoutesOptions): Promise<void> {
  app.get('/certificates/:serial/pem', async (request: SerialRequest, reply) => {
    const cert = await certificateOf(o.ledger, request.params.serial);
    return attachment(reply, 'application/x-pem-file', `${cert.serial}.pem`, derToPem(cert.der));
  });

  app.get('/certificates/:serial/chain', async (request: SerialRequest, reply) => {
    const cert = await certificateOf(o.ledger, request.params.serial);
    return attachment(reply, 'application/pem-certificate-chain', `${cert.serial}-chain.pem`, leafAndChainPem(cert));
  });

  app.post('/certificates/:serial/renew-early', async (request: SerialRequest, reply) => {
    // The role first: a viewer learns nothing of the serial or the body by trying.
    const admin: AdminPrincipal = request.admin!;
    requireOperator(admin, 'renewing a certificate early');
    const serial = serialOf(request.params.serial);
    const explanationUrl = explanationUrlOf(request.body);
    await o.ra.renewEarly({ serial, actor: `admin:${admin.name}`, ...(explanationUrl !== undefined ? { explanationUrl } : {}) });
    const cert = await certificateOf(o.ledger, serial);
    return reply.send(certificateDetailJson(cert, await o.ledger.auditTrail(serial), o.clock.now()));
  });
}
