import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { makeCsr } from '../../test/support/csr.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { createEabKey } from '../ra/eab.js';
import { startCertmint } from '../../test/support/certmint-process.js';

interface Entry {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}

let t: TestAcmeApp;
beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

/** `certmint audit --json` on the app's data dir, as an operator runs it next to the server. */
async function audit(...args: string[]): Promise<Entry[]> {
  const r = await runCli(['audit', '--json', ...args], { CERTMINT_DATA_DIR: t.dir });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Entry[];
}

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

describe('the audit log', () => {
  it('has an entry for every account, issuance, revocation and EAB event, each written with its change', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await client.register({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.internal'] })).statusCode).toBe(201);
    const account = `account:${client.accountUrl!.split('/').pop()!}`;
    expect((await client.post(client.accountUrl!, { contact: ['mailto:sre@example.internal'] })).statusCode).toBe(200);

    const issued = await issueCertificate(t, client, ['audit.example.internal', 'www.audit.example.internal']);
    const order = String(issued.finalize.json().finalize).split('/').at(-2);
    const revoked = await client.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(issued.der), reason: 4 });
    expect(revoked.statusCode).toBe(200);

    const eab = await createEabKey(t.ra.deps, { label: 'team-audit' }, 'operator:alice');
    await t.ledger.revokeEabKey(eab.kid, t.clock.now(), 'operator:alice');

    const entries = await audit();
    const find = (action: string, subject: string) => entries.filter((e) => e.action === action && e.subject === subject);
    expect(find('account-create', account)).toMatchObject([{ actor: account, detail: { contacts: 1, eabKid: null } }]);
    expect(find('account-update', account)).toMatchObject([{ actor: account, detail: { contacts: 1 } }]);
    expect(find('issue', issued.serial)).toMatchObject([
      {
        actor: account,
        detail: {
          order,
          identifiers: ['audit.example.internal', 'www.audit.example.internal'],
          issuerGeneration: 1,
          notAfter: expect.stringMatching(/^\d{4}-/),
        },
      },
    ]);
    expect(find('revoke', issued.serial)).toMatchObject([{ actor: account, detail: { reason: 4 } }]);
    expect(find('eab-create', `eab:${eab.kid}`)).toMatchObject([{ actor: 'operator:alice', detail: { label: 'team-audit' } }]);
    expect(find('eab-revoke', `eab:${eab.kid}`)).toMatchObject([{ actor: 'operator:alice' }]);
    // Time order, and no entry leaks the EAB HMAC key.
    expect(entries.map((e) => e.at)).toEqual([...entries.map((e) => e.at)].sort());
    expect(JSON.stringify(entries)).not.toContain(eab.hmacKey);

    // Filters: one action, one subject, a time window.
    expect((await audit('--action', 'issue')).every((e) => e.action === 'issue')).toBe(true);
    expect((await audit('--subject', issued.serial)).map((e) => e.action)).toEqual(['issue', 'revoke']);
    expect(await audit('--until', '2000-01-01')).toEqual([]);
    expect((await audit('--since', '1h')).length).toBeGreaterThan(0);
  });

  it('writes no entry for a request that changes nothing', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await client.register()).statusCode).toBe(201);
    const before = (await audit()).length;
    // A CSR for other names than the order's: refused (badCSR), no certificate, no entry.
    const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'nothing.example.internal' }] });
    const authz = (await client.post(res.json().authorizations[0], '')).json();
    t.responder.set(authz.challenges[0].token, await client.keyAuthorization(authz.challenges[0].token));
    await client.post(authz.challenges[0].url, {});
    const csr = await makeCsr(['other.example.internal']);
    const finalize = await client.post(res.json().finalize, { csr: b64(csr.der) });
    expect(finalize.json().type).toBe('urn:ietf:params:acme:error:badCSR');
    // The same account registering again is not a new account.
    expect((await client.register()).statusCode).toBe(200);
    expect(await audit()).toHaveLength(before);
  });

  it('cannot be changed or deleted, even through SQL', () => {
    const db = new Database(path.join(t.dir, 'ledger.sqlite3'), { fileMustExist: true });
    try {
      expect(() => db.prepare("UPDATE audit_log SET actor = 'someone-else'").run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
      expect((db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE actor = ?').get('someone-else') as { n: number }).n).toBe(0);
    } finally {
      db.close();
    }
  });

  it('tells the operator what a bad --since means', async () => {
    const r = await runCli(['audit', '--since', 'yesterday'], { CERTMINT_DATA_DIR: t.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--since "yesterday" is neither a date .* nor a duration/);
  });
});

describe('the audit log of CA events', () => {
  it('records ca init, rotate-intermediate and rotate-root as the operator, after their files are in place', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'certmint-ca-audit-'));
    try {
      const env = { CERTMINT_DATA_DIR: dataDir };
      for (const command of ['init', 'rotate-intermediate', 'rotate-root']) {
        const r = await runCli(['ca', command], env);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      const r = await runCli(['audit', '--json'], env);
      const entries = JSON.parse(r.stdout) as Entry[];
      expect(entries).toMatchObject([
        { action: 'ca-init', actor: expect.stringMatching(/^operator:./), subject: 'ca:intermediate-1', detail: { intermediate: { generation: 1 }, root: { generations: 1 } } },
        { action: 'ca-rotate-intermediate', subject: 'ca:intermediate-2', detail: { intermediate: { generation: 2 }, root: { generations: 1 } } },
        { action: 'ca-rotate-root', subject: 'ca:intermediate-3', detail: { intermediate: { generation: 3 }, root: { generations: 2 } } },
      ]);
      // A failed command writes nothing: init over an existing CA is refused.
      expect((await runCli(['ca', 'init'], env)).code).toBe(1);
      expect(JSON.parse((await runCli(['audit', '--json'], env)).stdout)).toHaveLength(3);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('records the CA that certmint serve creates on its first start, once', async () => {
    const server = await startCertmint();
    try {
      const restarted = await server.restart();
      try {
        const entries = JSON.parse((await restarted.cli(['audit', '--json', '--action', 'ca-init'])).stdout) as Entry[];
        expect(entries).toMatchObject([{ actor: 'certmint', subject: 'ca:intermediate-1' }]);
      } finally {
        await restarted.stop();
      }
    } finally {
      await server.stop();
    }
  });
});
