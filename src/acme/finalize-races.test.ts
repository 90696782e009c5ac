import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { CertificateLedger } from '../ledger/ledger.js';
import { makeCsr } from '../../test/support/csr.js';
import { issueCertificate, validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient } from '../../test/support/jws-client.js';
import { after, raceBackends, startRaceApps, type RaceApps } from '../../test/support/race-apps.js';

// Issue 20, point 6. Finalize checks the order's authorizations, the account and the CSR key when
// it begins, then signs, then commits. A deactivation or a keyCompromise block answered 200 while
// it signed must not be undone by the certificate: the commit checks the same facts again, in the
// transaction that inserts the certificate, on both backends. Here: the finalize stopped right
// before its commit (a ledger gate) while the other decision is answered, then the same two
// requests raced over many rounds, through two connections (SQLite) or two pools (PostgreSQL).

const URN = 'urn:ietf:params:acme:error:';
const ROUNDS = 24;
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');
const idOf = (url: string) => url.split('/').pop()!;
const orderUrlOf = (finalizeUrl: string) => finalizeUrl.replace(/\/finalize$/, '');

const races = raceBackends();

/** The audit entry ids of a certificate's issue and of a decision: which one committed first. */
async function issuedAfter(ledger: CertificateLedger, serial: string, subject: string, action: string): Promise<boolean> {
  const issue = (await ledger.auditTrail(serial)).find((e) => e.action === 'issue');
  const decision = (await ledger.auditTrail(subject)).find((e) => e.action === action);
  if (!issue || !decision) throw new Error(`missing audit entries: issue ${String(issue?.id)}, ${action} ${String(decision?.id)}`);
  return issue.id > decision.id;
}

/**
 * What every finalize answer must be, whichever decision won: a valid order with its certificate
 * in the ledger, or one of the RFC problems `refusals` with an invalid order and no certificate;
 * never a 5xx. Returns the certificate's serial, if one was issued.
 */
async function settledFinalize(ledger: CertificateLedger, client: InjectAcmeClient, finalizeUrl: string, fin: LightMyRequestResponse, refusals: readonly string[]) {
  const order = (await ledger.getOrder(idOf(orderUrlOf(finalizeUrl))))!;
  if (fin.statusCode === 200) {
    expect(fin.json().status).toBe('valid');
    expect(order.status).toBe('valid');
    expect(await ledger.getCertificate(order.certificateSerial!)).toBeDefined();
    return order.certificateSerial!;
  }
  expect(fin.statusCode, fin.body).toBeLessThan(500);
  expect(refusals.map((r) => URN + r)).toContain(fin.json().type);
  expect(order.certificateSerial).toBeUndefined();
  expect((await client.post(orderUrlOf(finalizeUrl), '')).json()).toMatchObject({ status: 'invalid' });
  return undefined;
}

for (const { backend, skip } of races.list) {
  describe.skipIf(skip)(`finalize against a decision committed while it signs [${backend.name}]`, () => {
    let r: RaceApps;
    beforeAll(async () => {
      if (backend.name === 'postgres') await races.startCluster();
      r = await startRaceApps(backend);
    }, 120_000);
    afterAll(async () => r?.close());

    /** A ready order for one new name of the account; the CSR for it (with `keys` if given). */
    async function readyOrder(client: InjectAcmeClient, name: string, keys?: CryptoKeyPair) {
      const order = await validateNames(r.a, client, [name]);
      expect(order.status === 'ready' || (await client.post(orderUrlOf(order.finalize), '')).json().status === 'ready').toBe(true);
      const csr = await makeCsr([name], keys ? { keys } : {});
      return { finalizeUrl: String(order.finalize), authzUrl: String(order.authorizations[0]), csr: b64(csr.der) };
    }

    it('an authorization deactivated while finalize signs: no certificate, the order invalid, unauthorized', async () => {
      const { onA, onB } = await r.account();
      const o = await readyOrder(onA, 'authz.held.finalize.test');
      const held = r.gate.hold();
      const finalizing = onA.post(o.finalizeUrl, { csr: o.csr });
      await held.reached;
      const deactivated = await onB.post(o.authzUrl, { status: 'deactivated' });
      expect(deactivated.statusCode, deactivated.body).toBe(200);
      expect(deactivated.json().status).toBe('deactivated');
      held.release();
      const fin = await finalizing;
      expect(fin.statusCode, fin.body).toBe(403);
      expect(fin.json()).toMatchObject({ type: URN + 'unauthorized', detail: expect.stringContaining('authz.held.finalize.test became deactivated') });
      await settledFinalize(r.a.ledger, onA, o.finalizeUrl, fin, ['unauthorized']);
      expect((await r.a.ledger.getOrder(idOf(orderUrlOf(o.finalizeUrl))))?.error).toMatchObject({ type: URN + 'unauthorized' });
      expect(await r.a.ledger.listCertificates({ now: r.a.clock.now(), identifier: 'authz.held.finalize.test', limit: 10 })).toEqual([]);
    });

    it('the account deactivated while finalize signs: no certificate, the order invalid, unauthorized', async () => {
      const { onA, onB } = await r.account();
      const o = await readyOrder(onA, 'account.held.finalize.test');
      const held = r.gate.hold();
      const finalizing = onA.post(o.finalizeUrl, { csr: o.csr });
      await held.reached;
      const deactivated = await onB.post(onB.accountUrl!, { status: 'deactivated' });
      expect(deactivated.statusCode, deactivated.body).toBe(200);
      held.release();
      const fin = await finalizing;
      expect(fin.statusCode, fin.body).toBe(403);
      expect(fin.json()).toMatchObject({ type: URN + 'unauthorized', detail: expect.stringContaining('account became deactivated') });
      const order = (await r.a.ledger.getOrder(idOf(orderUrlOf(o.finalizeUrl))))!;
      expect(order).toMatchObject({ status: 'invalid', certificateSerial: undefined, error: { type: URN + 'unauthorized' } });
      expect(await r.a.ledger.listCertificates({ now: r.a.clock.now(), identifier: 'account.held.finalize.test', limit: 10 })).toEqual([]);
    });

    it('the key blocked by a keyCompromise revocation while finalize signs: no certificate, the order invalid, badPublicKey', async () => {
      const { onA } = await r.account();
      const first = await issueCertificate(r.a, onA, ['key1.held.finalize.test']);
      const o = await readyOrder(onA, 'key2.held.finalize.test', first.keys);
      const held = r.gate.hold();
      const finalizing = onA.post(o.finalizeUrl, { csr: o.csr });
      await held.reached;
      const byKey = new InjectAcmeClient(r.b.app, r.b.baseUrl, first.certKey);
      const revoked = await byKey.post(`${r.b.baseUrl}/acme/revoke-cert`, { certificate: b64(first.der), reason: 1 }, { kid: undefined });
      expect(revoked.statusCode, revoked.body).toBe(200);
      held.release();
      const fin = await finalizing;
      expect(fin.statusCode, fin.body).toBe(400);
      expect(fin.json()).toMatchObject({ type: URN + 'badPublicKey', detail: expect.stringContaining('reported compromised') });
      await settledFinalize(r.a.ledger, onA, o.finalizeUrl, fin, ['badPublicKey']);
      expect((await r.a.ledger.getOrder(idOf(orderUrlOf(o.finalizeUrl))))?.error).toMatchObject({ type: URN + 'badPublicKey' });
      expect(await r.a.ledger.listCertificates({ now: r.a.clock.now(), identifier: 'key2.held.finalize.test', limit: 10 })).toEqual([]);
    });

    it('the other way round, each decision after the certificate was committed takes effect and leaves the certificate', async () => {
      const { onA, onB } = await r.account();
      const o = await readyOrder(onA, 'after.finalize.test');
      const fin = await onA.post(o.finalizeUrl, { csr: o.csr });
      expect(fin.json().status).toBe('valid');
      expect((await onB.post(o.authzUrl, { status: 'deactivated' })).json().status).toBe('deactivated');
      // RFC 8555 §7.1.6: the order that was issued stays valid; the authorization is gone for new ones.
      expect((await onA.post(orderUrlOf(o.finalizeUrl), '')).json().status).toBe('valid');
      expect((await onA.post(fin.json().certificate, '')).statusCode).toBe(200);
      const again = await onA.post(`${r.a.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'after.finalize.test' }] });
      expect(again.json().status).toBe('pending');

      const issued = await issueCertificate(r.a, onA, ['after2.finalize.test']);
      expect((await onB.post(onB.accountUrl!, { status: 'deactivated' })).statusCode).toBe(200);
      expect((await r.a.ledger.getCertificate(issued.serial))?.status).toBe('valid');
    });

    it(`${ROUNDS} rounds of finalize against an authorization deactivation: never a certificate committed after it`, async () => {
      const { onA, onB } = await r.account();
      let committedAfter = 0;
      const outcomes = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const o = await readyOrder(onA, `r${round}.authz.race.test`);
        const [fin, deactivated] = await Promise.all([
          onA.post(o.finalizeUrl, { csr: o.csr }),
          after(round % 12, () => onB.post(o.authzUrl, { status: 'deactivated' })),
        ]);
        expect(deactivated.statusCode, deactivated.body).toBe(200);
        // Refused at commit (unauthorized), or (deactivated first) when it began: the order is invalid then.
        const serial = await settledFinalize(r.a.ledger, onA, o.finalizeUrl, fin, ['unauthorized', 'orderNotReady']);
        outcomes.add(serial ? 'issued' : 'refused');
        if (serial && (await issuedAfter(r.a.ledger, serial, `authorization:${idOf(o.authzUrl)}`, 'authorization-deactivate'))) committedAfter++;
      }
      console.log(`[${backend.name}] authorization deactivation: ${committedAfter} of ${ROUNDS} rounds committed a certificate after it; outcomes ${[...outcomes].join(', ')}`);
      expect(committedAfter).toBe(0);
    });

    it(`${ROUNDS} rounds of finalize against an account deactivation: never a certificate committed after it`, async () => {
      let committedAfter = 0;
      const outcomes = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const { onA, onB } = await r.account();
        const o = await readyOrder(onA, `r${round}.account.race.test`);
        const [fin, deactivated] = await Promise.all([
          onA.post(o.finalizeUrl, { csr: o.csr }),
          after(round % 12, () => onB.post(onB.accountUrl!, { status: 'deactivated' })),
        ]);
        expect(deactivated.statusCode, deactivated.body).toBe(200);
        const order = (await r.a.ledger.getOrder(idOf(orderUrlOf(o.finalizeUrl))))!;
        if (fin.statusCode === 200) {
          expect(order.status).toBe('valid');
          outcomes.add('issued');
          if (await issuedAfter(r.a.ledger, order.certificateSerial!, `account:${idOf(onA.accountUrl!)}`, 'account-deactivate')) committedAfter++;
        } else {
          // Refused at commit, or (deactivated first) by the JWS check of the account.
          expect(fin.statusCode, fin.body).toBe(403);
          expect(fin.json().type).toBe(URN + 'unauthorized');
          expect(order.certificateSerial).toBeUndefined();
          expect(order.status === 'invalid' || order.status === 'ready' || order.status === 'pending').toBe(true);
          outcomes.add('refused');
        }
      }
      console.log(`[${backend.name}] account deactivation: ${committedAfter} of ${ROUNDS} rounds committed a certificate after it; outcomes ${[...outcomes].join(', ')}`);
      expect(committedAfter).toBe(0);
    });

    it(`${ROUNDS} rounds of finalize against a keyCompromise revocation of its key: never a certificate committed after the block`, async () => {
      const { onA } = await r.account();
      let committedAfter = 0;
      const outcomes = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const first = await issueCertificate(r.a, onA, [`r${round}.key1.race.test`]);
        const o = await readyOrder(onA, `r${round}.key2.race.test`, first.keys);
        const byKey = new InjectAcmeClient(r.b.app, r.b.baseUrl, first.certKey);
        const [fin, revoked] = await Promise.all([
          onA.post(o.finalizeUrl, { csr: o.csr }),
          after(round % 12, () => byKey.post(`${r.b.baseUrl}/acme/revoke-cert`, { certificate: b64(first.der), reason: 1 }, { kid: undefined })),
        ]);
        expect(revoked.statusCode, revoked.body).toBe(200);
        const order = (await r.a.ledger.getOrder(idOf(orderUrlOf(o.finalizeUrl))))!;
        if (fin.statusCode === 200) {
          outcomes.add('issued');
          if (await issuedAfter(r.a.ledger, order.certificateSerial!, first.serial, 'revoke')) committedAfter++;
        } else {
          // Refused at commit (order invalid), or (blocked first) by finalize's own check (order still ready).
          expect(fin.statusCode, fin.body).toBe(400);
          expect(fin.json().type).toBe(URN + 'badPublicKey');
          expect(order.certificateSerial).toBeUndefined();
          outcomes.add('refused');
        }
      }
      console.log(`[${backend.name}] keyCompromise block: ${committedAfter} of ${ROUNDS} rounds committed a certificate after it; outcomes ${[...outcomes].join(', ')}`);
      expect(committedAfter).toBe(0);
    });
  });
}

/**
 * Resolves once `sessions` sessions of the database wait for a lock (pg_stat_activity); fails
 * with what `request` answered if it settles first: it did not wait for the decision in flight.
 */
async function lockWaits(url: string, sessions: number, request: Promise<LightMyRequestResponse>): Promise<void> {
  let answered: LightMyRequestResponse | undefined;
  void request.then((res) => (answered = res), () => undefined);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (let i = 0; ; i++) {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0]!.n >= sessions) return;
      if (answered) throw new Error(`answered without waiting for the decision in flight: ${answered.statusCode} ${answered.body}`);
      if (i > 400) throw new Error(`${sessions} sessions never waited for a lock`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await c.end();
  }
}

describe.skipIf(!races.pgAvailable)('finalize\'s commit against a decision in flight on another session [postgres]', () => {
  let r: RaceApps;
  let holder: pg.Client;
  beforeAll(async () => {
    await races.startCluster();
    r = await startRaceApps(races.postgres);
  }, 120_000);
  afterAll(async () => r?.close());

  /** A transaction of another session, open until the test commits it. */
  async function begin(): Promise<pg.Client> {
    holder = new pg.Client({ connectionString: r.databaseUrl! });
    await holder.connect();
    await holder.query('BEGIN');
    return holder;
  }

  async function readyOrder(client: InjectAcmeClient, name: string, keys?: CryptoKeyPair) {
    const order = await validateNames(r.a, client, [name]);
    const csr = await makeCsr([name], keys ? { keys } : {});
    return { finalizeUrl: String(order.finalize), authzUrl: String(order.authorizations[0]), csr: b64(csr.der) };
  }

  it('waits for an authorization\'s deactivation in flight, then refuses: unauthorized, no certificate', async () => {
    const { onA } = await r.account();
    const o = await readyOrder(onA, 'authz.inflight.finalize.test');
    const tx = await begin();
    // What deactivateAuthorization writes first, not yet committed.
    await tx.query(`UPDATE authorizations SET status = 'deactivated' WHERE id = $1`, [idOf(o.authzUrl)]);
    const finalizing = onA.post(o.finalizeUrl, { csr: o.csr });
    try {
      await lockWaits(r.databaseUrl!, 1, finalizing);
    } finally {
      await tx.query('COMMIT');
      await tx.end();
    }
    const fin = await finalizing;
    expect(fin.statusCode, fin.body).toBe(403);
    expect(fin.json().type).toBe(URN + 'unauthorized');
    await settledFinalize(r.a.ledger, onA, o.finalizeUrl, fin, ['unauthorized']);
  });

  it('waits for the account\'s deactivation in flight, then refuses: unauthorized, no certificate', async () => {
    const { onA } = await r.account();
    const o = await readyOrder(onA, 'account.inflight.finalize.test');
    const tx = await begin();
    await tx.query(`UPDATE accounts SET status = 'deactivated' WHERE id = $1`, [idOf(onA.accountUrl!)]);
    const finalizing = onA.post(o.finalizeUrl, { csr: o.csr });
    try {
      await lockWaits(r.databaseUrl!, 1, finalizing);
    } finally {
      await tx.query('COMMIT');
      await tx.end();
    }
    const fin = await finalizing;
    expect(fin.statusCode, fin.body).toBe(403);
    expect(fin.json().type).toBe(URN + 'unauthorized');
    expect((await r.a.ledger.getOrder(idOf(orderUrlOf(o.finalizeUrl))))).toMatchObject({ status: 'invalid', certificateSerial: undefined });
  });

  it('waits for a keyCompromise revocation in flight (its key blocked, not committed), then refuses: badPublicKey, no certificate', async () => {
    const { onA } = await r.account();
    const first = await issueCertificate(r.a, onA, ['key1.inflight.finalize.test']);
    const o = await readyOrder(onA, 'key2.inflight.finalize.test', first.keys);
    const tx = await begin();
    // The revocation stops at its last step (marking the CRL stale), its key blocked but not committed.
    await tx.query(`INSERT INTO crl_state (issuer) VALUES ('intermediate') ON CONFLICT (issuer) DO NOTHING`);
    await tx.query(`SELECT 1 FROM crl_state FOR UPDATE`);
    const byKey = new InjectAcmeClient(r.b.app, r.b.baseUrl, first.certKey);
    const revoking = byKey.post(`${r.b.baseUrl}/acme/revoke-cert`, { certificate: b64(first.der), reason: 1 }, { kid: undefined });
    let finalizing: Promise<LightMyRequestResponse> | undefined;
    try {
      await lockWaits(r.databaseUrl!, 1, revoking);
      finalizing = onA.post(o.finalizeUrl, { csr: o.csr });
      await lockWaits(r.databaseUrl!, 2, finalizing);
    } finally {
      await tx.query('COMMIT');
      await tx.end();
    }
    expect((await revoking).statusCode).toBe(200);
    const fin = await finalizing;
    expect(fin.statusCode, fin.body).toBe(400);
    expect(fin.json().type).toBe(URN + 'badPublicKey');
    await settledFinalize(r.a.ledger, onA, o.finalizeUrl, fin, ['badPublicKey']);
  });
});
