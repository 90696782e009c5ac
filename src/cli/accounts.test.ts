import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';


// `certmint accounts` (the built binary) on the data dir of a live app, as an operator runs it.
let t: TestAcmeApp;
let issuer: InjectAcmeClient;
let idle: InjectAcmeClient;
let pendingAuthz: string;
const idOf = (c: InjectAcmeClient) => c.accountUrl!.split('/').pop()!;

const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: t.dir });

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
  issuer = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await issuer.register({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.internal'] });
  await issueCertificate(t, issuer, ['one.accounts.test']);
  await issueCertificate(t, issuer, ['two.accounts.test']);
  t.clock.advance(1000);
  idle = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey('EdDSA'));
  await idle.register();
  const order = await idle.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'idle.accounts.test' }] });
  pendingAuthz = (order.json().authorizations as string[])[0]!;
});
afterAll(async () => t?.close());

describe('certmint accounts', () => {
  it('lists accounts oldest first with status, creation, certificate count and contacts', async () => {
    const r = await certmint(['accounts', 'list']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+CREATED\s+CERTS\s+CONTACTS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual([
      [idOf(issuer), 'valid', expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), '2', 'mailto:ops@example.internal'],
      [idOf(idle), 'valid', expect.stringMatching(/Z$/), '0'],
    ]);
    const json = JSON.parse((await certmint(['accounts', 'list', '--json'])).stdout);
    expect(json).toEqual([
      { id: idOf(issuer), status: 'valid', contacts: ['mailto:ops@example.internal'], created: expect.any(String), certificates: 2 },
      { id: idOf(idle), status: 'valid', contacts: [], created: expect.any(String), certificates: 0 },
    ]);
    expect(new Date(json[1].created).getTime() - new Date(json[0].created).getTime()).toBe(1000);
    expect(JSON.parse((await certmint(['accounts', 'list', '--json', '--limit', '1'])).stdout)).toHaveLength(1);
  });

  it('shows one account by id or by its URL', async () => {
    const r = await certmint(['accounts', 'show', idOf(issuer)]);
    expect(r.stdout).toMatch(new RegExp(`^id\\s+${idOf(issuer)}$`, 'm'));
    expect(r.stdout).toMatch(/^certificates\s+2$/m);
    expect(r.stdout).toMatch(/^keyType\s+EC P-256$/m);
    const json = JSON.parse((await certmint(['accounts', 'show', idle.accountUrl!, '--json'])).stdout);
    expect(json).toMatchObject({ id: idOf(idle), status: 'valid', certificates: 0, keyType: 'OKP Ed25519', audit: [{ action: 'account-create', actor: `account:${idOf(idle)}` }] });
  });

  it('deactivates an account as the operator: audited, its pending authorizations too, and the live server refuses it', async () => {
    expect((await idle.post(idle.accountUrl!, '')).statusCode).toBe(200);
    const r = await certmint(['accounts', 'deactivate', idOf(idle)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`deactivated account ${idOf(idle)} (1 pending authorization deactivated)\n`);

    const refused = await idle.post(idle.accountUrl!, '');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().type).toBe('urn:ietf:params:acme:error:unauthorized');
    expect((await t.ledger.getAuthorization(pendingAuthz.split('/').pop()!))?.status).toBe('deactivated');
    const shown = JSON.parse((await certmint(['accounts', 'show', idOf(idle), '--json'])).stdout);
    expect(shown).toMatchObject({
      status: 'deactivated',
      audit: [
        { action: 'account-create' },
        { actor: expect.stringMatching(/^operator:./), action: 'account-deactivate', deactivatedAuthorizations: 1 },
      ],
    });
    expect((await certmint(['accounts', 'list'])).stdout).toMatch(new RegExp(`^${idOf(idle)}\\s+deactivated\\s`, 'm'));
  });

  it('refuses a second deactivation, unknown and malformed ids, changing nothing', async () => {
    const before = JSON.parse((await certmint(['accounts', 'list', '--json'])).stdout);
    for (const [args, message] of [
      [['accounts', 'deactivate', idOf(idle)], /is deactivated; nothing was changed/],
      [['accounts', 'deactivate', 'no-such-account'], /no account no-such-account in this ledger; nothing was changed/],
      [['accounts', 'deactivate', 'bad id!'], /"bad id!" is not an account id or account URL/],
      [['accounts', 'show', 'no-such-account'], /no account no-such-account in this ledger/],
      [['accounts', 'list', '--limit', '0'], /--limit must be a positive whole number/],
    ] as const) {
      const r = await certmint([...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(JSON.parse((await certmint(['accounts', 'list', '--json'])).stdout)).toEqual(before);
    expect(await auditAfterCreation(t.ledger, `account:${idOf(idle)}`)).toHaveLength(1);
    expect((await issuer.post(issuer.accountUrl!, '')).statusCode).toBe(200);
  });
});
