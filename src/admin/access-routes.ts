import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDuration } from '../core/duration.js';
import { AcmeProblem } from '../core/problem.js';
import type { AuditFilter } from '../ledger/ledger.js';
import type { AdminPrincipal } from '../ra/admin-certificates.js';
import { requireOperator } from '../ra/admin-tokens.js';
import type { AdminApiOptions } from './admin-api.js';
import {
  accountDetailJson,
  accountJson,
  auditEntryJson,
  decodeKeyset,
  eabKeyJson,
  eabKeyState,
  encodeKeyset,
  pageOf,
  pageSizeOf,
  pointInTime,
  queryOf,
} from './access-views.js';

/** Who may hold and use the CA: accounts, EAB keys and the audit log (docs/console-and-admin-api.md). */

const bad = (detail: string) => new AcmeProblem('malformed', detail);
const notFound = (detail: string) => new AcmeProblem('malformed', detail, { status: 404 });
const admin = (request: FastifyRequest): AdminPrincipal => request.admin!;
const actor = (request: FastifyRequest) => `admin:${admin(request).name}`;

/** An account id as `certmint accounts` takes it: the id, or the account URL a client logged. */
function accountIdOf(input: string): string {
  const id = input.includes('/') ? input.slice(input.lastIndexOf('/') + 1) : input;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw bad(`${JSON.stringify(input)} is not an account id`);
  return id;
}

const EAB_BODY_KEYS = ['label', 'policy', 'reusable', 'expires'] as const;

/** The body of POST /eab-keys: `certmint eab create`'s options, as JSON. */
function eabRequestOf(body: unknown) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object such as {"label": "team-a"}');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !(EAB_BODY_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw bad(`unknown member ${JSON.stringify(unknown)}: the body takes ${EAB_BODY_KEYS.join(', ')}`);
  if (typeof b.label !== 'string') throw bad('"label" must be a string: an external account binding key needs a label');
  if (b.policy !== undefined && typeof b.policy !== 'string') throw bad('"policy" must be the name of a policy from the config');
  if (b.reusable !== undefined && typeof b.reusable !== 'boolean') throw bad('"reusable" must be true or false');
  let expiresInMs: number | undefined;
  if (b.expires !== undefined) {
    if (typeof b.expires !== 'string') throw bad('"expires" must be a duration such as "30d"');
    try {
      expiresInMs = parseDuration(b.expires);
    } catch (e) {
      throw bad(`expires: ${(e as Error).message}`);
    }
  }
  return {
    label: b.label,
    ...(b.policy !== undefined ? { policy: b.policy } : {}),
    ...(expiresInMs !== undefined ? { expiresInMs } : {}),
    reusable: b.reusable === true,
  };
}

const AUDIT_QUERY_KEYS = ['since', 'until', 'action', 'subject', 'limit', 'cursor'] as const;

export async function accessRoutes(app: FastifyInstance, o: AdminApiOptions): Promise<void> {
  app.get('/accounts', async (request) => {
    const q = queryOf(request.query, ['limit', 'cursor'] as const);
    const limit = pageSizeOf(q.limit);
    const after = q.cursor !== undefined ? decodeKeyset(q.cursor, 'string') : undefined;
    const rows = await o.ledger.listAccounts(limit + 1, after ? { createdAt: after.at, id: after.id } : undefined);
    const { page, next } = pageOf(rows, limit, (a) => encodeKeyset(a.createdAt, a.id));
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
    if (!(await o.ledger.getAccount(id))) throw notFound(`no account ${id} in this ledger`);
    try {
      await o.ra.deactivateAccount(id, { kind: 'admin', name: admin(request).name });
    } catch (e) {
      // Deactivated already (or meanwhile): a conflict with the account's state, not the caller's rights.
      if (e instanceof AcmeProblem && e.type === 'unauthorized') throw new AcmeProblem('malformed', `${e.detail}; nothing was changed`, { status: 409 });
      throw e;
    }
    const account = await o.ledger.getAccountSummary(id);
    return accountDetailJson(account!, await o.ledger.auditTrail(`account:${id}`));
  });

  app.get('/eab-keys', async (request) => {
    queryOf(request.query, [] as const);
    const now = o.clock.now();
    return { eabKeys: (await o.ledger.listEabKeys()).map((k) => ({ ...eabKeyJson(k), state: eabKeyState(k, now) })) };
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
    const q = queryOf(request.query, AUDIT_QUERY_KEYS);
    const now = o.clock.now();
    const limit = pageSizeOf(q.limit);
    const filter: AuditFilter = {
      limit: limit + 1,
      ...(q.since !== undefined ? { since: pointInTime('since', q.since, now) } : {}),
      ...(q.until !== undefined ? { until: pointInTime('until', q.until, now) } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.subject !== undefined ? { subject: q.subject } : {}),
      ...(q.cursor !== undefined ? { after: decodeKeyset(q.cursor, 'number') } : {}),
    };
    const { page, next } = pageOf(await o.ledger.listAudit(filter), limit, (e) => encodeKeyset(e.at, e.id));
    return { entries: page.map(auditEntryJson), next };
  });
}
