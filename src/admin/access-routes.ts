import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import type { AdminPrincipal } from '../ra/admin-certificates.js';
import { requireOperator } from '../ra/admin-tokens.js';
import type { AdminApiOptions } from './admin-api.js';
import {
  accountDetailJson,
  accountIdOf,
  accountJson,
  accountsPageOf,
  auditEntryJson,
  auditPageOf,
  deactivateAsAdmin,
  eabKeyJson,
  eabKeysOf,
  eabKeyState,
  eabRequestOf,
  queryOf,
} from './access-views.js';

/** Who may hold and use the CA: accounts, EAB keys and the audit log (docs/console-and-admin-api.md). */

const notFound = (detail: string) => new AcmeProblem('malformed', detail, { status: 404 });
const admin = (request: FastifyRequest): AdminPrincipal => request.admin!;
const actor = (request: FastifyRequest) => `admin:${admin(request).name}`;

export async function accessRoutes(app: FastifyInstance, o: AdminApiOptions): Promise<void> {
  app.get('/accounts', async (request) => {
    const { page, next } = await accountsPageOf(o.ledger, request.query);
    return { accounts: page.map(accountJson), next };
  });

  app.get('/accounts/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const id = accountIdOf(request.params.id);
    const account = await o.ledger.getAccountSummary(id);
    if (!account) throw notFound(`no account ${id} in this ledger`);
    return accountDetailJson(account, await o.ledger.auditTrail(`account:${id}`));
  });

  app.post('/accounts/:id/deactivate', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    // The role first: a viewer learns nothing of the account by trying.
    requireOperator(admin(request), 'deactivating an account');
    const id = accountIdOf(request.params.id);
    await deactivateAsAdmin(o, id, admin(request).name);
    const account = await o.ledger.getAccountSummary(id);
    return accountDetailJson(account!, await o.ledger.auditTrail(`account:${id}`));
  });

  app.get('/eab-keys', async (request) => {
    queryOf(request.query, [] as const);
    return { eabKeys: await eabKeysOf(o.ledger, o.clock.now()) };
  });

  app.post('/eab-keys', async (request, reply) => {
    requireOperator(admin(request), 'creating an external account binding key');
    const issued = await o.ra.createEabKey(eabRequestOf(request.body), actor(request));
    // The only answer that ever carries the HMAC key.
    return reply.code(201).send({ ...eabKeyJson(issued.record), state: eabKeyState(issued.record, o.clock.now()), hmacKey: issued.hmacKey });
  });

  app.post('/eab-keys/:kid/revoke', async (request: FastifyRequest<{ Params: { kid: string } }>) => {
    requireOperator(admin(request), 'revoking an external account binding key');
    const key = await o.ra.revokeEabKey(request.params.kid, actor(request));
    return { ...eabKeyJson(key), state: eabKeyState(key, o.clock.now()) };
  });

  app.get('/audit', async (request) => {
    const { page, next } = await auditPageOf(o.ledger, request.query, o.clock.now());
    return { entries: page.map(auditEntryJson), next };
  });
}
