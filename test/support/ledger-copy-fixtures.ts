import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { NewCertificate } from '../../src/ledger/records.js';
import { SqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { MemoryNonceStore } from '../../src/ledger/sqlite/memory-nonces.js';
import { accountRecord, authorizationRecord, certificateRecord } from './ledger-records.js';

// SQLite ledgers for the tests of `certmint ledger copy`, written through the ledger API as the server writes them.

const DAY = 86_400_000;
/** Past 2^53: a JavaScript number would round it; SQLite INTEGER and PostgreSQL BIGINT hold it exactly. */
export const BIG_CRL_NUMBER = 2n ** 53n + 5n;

/**
 * A ledger with a row in every table, written as the server writes it: EAB keys bound to accounts
 * (one single-use, one reusable and later revoked), an order whose two authorizations (one a
 * wildcard) carry all three challenge types, two of them passed, a failed order, certificates with identifiers
 * (one the server's own, without account), a keyCompromise revocation that blocked the key,
 * a renew-early mark, an order replacing a certificate, CRL state past 2^53, admin tokens (one
 * revoked), audit entries.
 */
export async function buildRealisticLedger(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'ledger.sqlite3');
  const now = new Date(Date.now() - 3_600_000);
  const later = (ms: number) => new Date(now.getTime() + ms);
  const ledger = new SqliteLedger({ file, now: () => now.getTime() });
  try {
    await ledger.createEabKey({ kid: 'kid-single', label: 'team a', hmacSealed: randomBytes(60), reusable: false, createdAt: now, expiresAt: later(30 * DAY) }, 'operator:alice');
    await ledger.createEabKey({ kid: 'kid-shared', label: 'cluster b', policy: 'internal', hmacSealed: randomBytes(60), reusable: true, createdAt: now }, 'operator:alice');
    await ledger.createAccount({ ...accountRecord('acct-eab', 'thumb-eab', now), eabKid: 'kid-single' });
    await ledger.createAccount({ ...accountRecord('acct-shared', 'thumb-shared', later(1)), eabKid: 'kid-shared', policy: 'internal' });
    await ledger.createAccount({ ...accountRecord('acct-plain', 'thumb-plain', later(2)), termsOfServiceAgreed: false, contact: [] });
    await ledger.revokeEabKey('kid-shared', later(3), 'operator:alice');
    // Admin tokens: bytes (the hash), a revoked one and one that was used.
    await ledger.adminTokens.createAdminToken({ id: 'tok-old', name: 'ops', role: 'operator', tokenHash: createHash('sha256').update('a').digest(), createdAt: now, expiresAt: later(90 * DAY) }, 'operator:alice');
    await ledger.adminTokens.revokeAdminToken('ops', later(4), 'operator:alice');
    await ledger.adminTokens.createAdminToken({ id: 'tok-new', name: 'ops', role: 'viewer', tokenHash: createHash('sha256').update('b').digest(), createdAt: later(5) }, 'operator:alice');
    await ledger.adminTokens.recordAdminTokenUse('tok-new', later(6));
    // Admin client certificates: a revoked one and a live one.
    await ledger.adminCertificates.createAdminCertificate({ serial: '01ab', name: 'deploy', role: 'operator', createdAt: now, notAfter: later(90 * DAY) }, 'operator:alice');
    await ledger.adminCertificates.revokeAdminCertificate('deploy', later(4), 'operator:alice');
    await ledger.adminCertificates.createAdminCertificate({ serial: '01cd', name: 'deploy', role: 'viewer', createdAt: later(5), notAfter: later(30 * DAY) }, 'operator:alice');
    // A console session of it (bytes again: the SHA-256 of the cookie).
    const tokNew = (await ledger.adminTokens.findAdminToken(createHash('sha256').update('b').digest()))!;
    await ledger.adminTokens.createConsoleSession(
      { idHash: createHash('sha256').update('cookie').digest(), token: tokNew, csrf: 'csrf-token', createdAt: later(6) },
      { idleBefore: now, createdBefore: now },
    );

    const www = authorizationRecord('authz-www', 'acct-eab', 'www.example.internal', now);
    const wild = {
      ...authorizationRecord('authz-wild', 'acct-eab', 'example.internal', now),
      wildcard: true,
      challenges: [{ id: 'authz-wild-c', authorizationId: 'authz-wild', type: 'dns-01' as const, token: 'tok-wild', status: 'pending' as const, validatedAt: undefined, error: undefined }],
    };
    const alpn = { id: 'authz-www-alpn', authorizationId: 'authz-www', type: 'tls-alpn-01' as const, token: 'tok-alpn', status: 'pending' as const, validatedAt: undefined, error: undefined };
    const identifiers = [{ type: 'dns' as const, value: 'www.example.internal' }, { type: 'dns' as const, value: '*.example.internal' }];
    await ledger.createOrder(
      { id: 'order-1', accountId: 'acct-eab', identifiers, notBefore: undefined, notAfter: undefined, expires: later(DAY), createdAt: now, authorizationIds: ['authz-www', 'authz-wild'], profile: 'tlsserver' },
      [{ ...www, challenges: [...www.challenges, alpn] }, wild],
    );
    for (const [challengeId, authorizationId] of [['authz-www-c', 'authz-www'], ['authz-wild-c', 'authz-wild']] as const) {
      await ledger.beginChallenge(challengeId);
      await ledger.completeChallenge({ challengeId, authorizationId, challengeStatus: 'valid', authorizationStatus: 'valid', validatedAt: later(10), authorizationExpires: later(30 * DAY), error: undefined });
    }
    const cert1: NewCertificate = {
      ...certificateRecord('0a1b2c3d4e5f60718293', ['www.example.internal', '*.example.internal'], 90, now, 'acct-eab'),
      orderId: 'order-1', der: randomBytes(700), chainPem: '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n', commonName: 'www.example.internal', profile: 'tlsserver',
    };
    await ledger.beginFinalize('order-1');
    await ledger.completeFinalize('order-1', cert1, later(11));

    const bad = { ...authorizationRecord('authz-ip', 'acct-plain', '192.0.2.10', now), identifier: { type: 'ip' as const, value: '192.0.2.10' } };
    await ledger.createOrder({ id: 'order-2', accountId: 'acct-plain', identifiers: [bad.identifier], notBefore: later(0), notAfter: later(7 * DAY), expires: later(DAY), createdAt: later(20), authorizationIds: ['authz-ip'] }, [bad]);
    const problem = { type: 'urn:ietf:params:acme:error:connection', detail: 'connection refused by 192.0.2.10:80 "quoted" \\ backslash', status: 400 };
    await ledger.beginChallenge('authz-ip-c');
    await ledger.completeChallenge({ challengeId: 'authz-ip-c', authorizationId: 'authz-ip', challengeStatus: 'invalid', authorizationStatus: 'invalid', validatedAt: later(21), authorizationExpires: later(DAY), error: problem });
    await ledger.failOrder('order-2', problem);

    const cert2 = { ...certificateRecord('7fedcba987654321', ['api.example.internal'], 30, now, 'acct-shared'), der: randomBytes(650), issuerGeneration: 2, crlPartition: 5 };
    const server = { ...certificateRecord('1234', ['certmint.example.internal'], 14, now), accountId: undefined, der: randomBytes(600) };
    await ledger.insertCertificate(cert2);
    await ledger.insertCertificate(server);
    await ledger.revokeCertificate({ serial: cert2.serial, reason: 1, revokedAt: later(30), blockKey: true, actor: 'certificate-key' });
    await ledger.markRenewEarly({ serial: cert1.serial, at: later(40), explanationUrl: 'https://status.example.internal/incident-7', actor: 'operator:alice' });
    const www3 = authorizationRecord('authz-www-3', 'acct-eab', 'www.example.internal', later(50));
    await ledger.createOrder(
      { id: 'order-3', accountId: 'acct-eab', identifiers: [www3.identifier], notBefore: undefined, notAfter: undefined, expires: later(DAY), createdAt: later(50), authorizationIds: ['authz-www-3'], replacement: { certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.CgssPU5fYHGCkw', serial: cert1.serial } },
      [www3],
    );
    // A subordinate CA (issue 24), revoked: its row, its two audit entries, the root's CRL marked stale.
    await ledger.subordinates.recordSubordinate({
      serial: '01aa', label: 'vault-prod', kind: 'subordinate', rootGeneration: 1, subject: 'CN=Vault', notBefore: later(50), notAfter: later(365 * DAY),
      der: randomBytes(400), pem: '-----BEGIN CERTIFICATE-----\n', constraints: { permitted: ['example.internal'], excluded: [] }, keyHash: 'ab'.repeat(32),
      createdAt: later(50), actor: 'operator:alice',
    });
    await ledger.subordinates.revokeSubordinate({ serial: '01aa', reason: 1, revokedAt: later(55), actor: 'operator:alice' });
    await ledger.appendAudit({ at: later(60), actor: 'operator:alice', action: 'ca-rotate-intermediate', subject: 'ca:intermediate-2', detail: { note: 'ünïcode ✓' } });

    // No API sets a CRL number: the ledger only counts up from 0. Put it past 2^53 as a CA after
    // that many CRLs would be, then count up through the API.
    const raw = new Database(file);
    raw.prepare(`UPDATE crl_state SET crl_number = ? WHERE issuer = 'intermediate'`).run(BIG_CRL_NUMBER - 1n);
    raw.close();
    const lease = { holder: 'copy-test', now: later(70), until: later(70 + 60_000) };
    const crlNumber = await ledger.claimCrlNumber('intermediate', lease);
    if (crlNumber !== BIG_CRL_NUMBER) throw new Error(`claimCrlNumber gave ${crlNumber}, not ${BIG_CRL_NUMBER}`);
    await ledger.recordCrl('intermediate', { crlNumber: BIG_CRL_NUMBER, thisUpdate: later(70), nextUpdate: later(70 + DAY), der: randomBytes(300) });

    await ledger.takeRateLimit('new-account', '192.0.2.7', later(80), 10, 3_600_000);
    await ledger.recordCaIdentity(createHash('sha256').update('root').digest('hex'), later(90));
    await ledger.checkWritable(later(100));
    // Notification deliveries in each state: one delivered, one failed, the rest pending.
    await ledger.outbox.fanOutEvents([{ name: 'hook-a', events: ['certificate.issued', 'certificate.revoked', 'account.created', 'eab.bound'] }], later(110), 100);
    const [delivered, failed] = await ledger.outbox.claimDeliveries('fixture', later(110), later(120), 2);
    await ledger.outbox.recordDeliveryAttempt(delivered!.eventId, delivered!.webhook, 'fixture', { outcome: 'delivered' }, later(111));
    await ledger.outbox.recordDeliveryAttempt(failed!.eventId, failed!.webhook, 'fixture', { outcome: 'failed', error: 'HTTP 500' }, later(111));
  } finally {
    await ledger.close();
  }
  // Worker processes (server.workers > 1, migration 0025) share the nonce secret. Since the second
  // round of issue 27 nothing writes used_nonces (workers spend nonces in memory), but a ledger of
  // the first round may hold rows there, and a copy takes them too.
  const worker = new SqliteLedger({ file, workers: { first: true, nonces: () => new MemoryNonceStore({ now: () => later(130).getTime() }) } });
  await worker.close();
  const db = new Database(file);
  try {
    db.prepare('INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?)').run(randomBytes(16), later(140).getTime());
  } finally {
    db.close();
  }
}

/** `count` certificates of about 2.3 kB each (DER and chain), two names each, inserted as concurrent commits share their fsyncs. */
export async function buildLargeLedger(dataDir: string, count: number): Promise<void> {
  const now = new Date();
  const chainPem = `-----BEGIN CERTIFICATE-----\n${randomBytes(1100).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  const ledger = new SqliteLedger({ file: path.join(dataDir, 'ledger.sqlite3') });
  try {
    await ledger.createAccount(accountRecord('a1', 'thumb-a1', now));
    for (let start = 0; start < count; start += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, count - start) }, (_, k) => {
          const i = start + k;
          const serial = (0x100000 + i).toString(16);
          return ledger.insertCertificate({
            ...certificateRecord(serial, [`host-${i}.fleet.example.internal`, `alt-${i}.example.internal`], 30 + (i % 60), now),
            der: randomBytes(900), chainPem, commonName: `host-${i}.fleet.example.internal`,
          });
        }),
      );
    }
  } finally {
    await ledger.close();
  }
}

