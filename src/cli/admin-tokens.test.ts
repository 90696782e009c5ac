import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { adminTokenHash } from '../ra/admin-tokens.js';

// `certmint admin token …` (the built binary) on the data dir of a live app, as an operator runs it.
let t: TestAcmeApp;
const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: t.dir, USER: 'root' });

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

/** What the ledger holds of tokens and their audit, to show that a refused command wrote nothing. */
async function ledgerState() {
  return { tokens: await t.ledger.adminTokens.listAdminTokens(), audit: await t.ledger.countAudit({ limit: 1 }) };
}

describe('certmint admin token', () => {
  it('create prints the token once (--json exactly name, role, token, expires); the ledger keeps only its SHA-256', async () => {
    const r = await certmint(['admin', 'token', 'create', '--name', 'alice', '--role', 'operator', '--expires', '90d', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    registerSecrets([out.token]);
    expect(Object.keys(out)).toEqual(['name', 'role', 'token', 'expires']);
    expect(out).toMatchObject({ name: 'alice', role: 'operator', token: expect.stringMatching(/^cm_admin_[A-Za-z0-9_-]{43}$/) });
    const [stored] = await t.ledger.adminTokens.listAdminTokens();
    expect(Buffer.from(stored!.tokenHash)).toEqual(adminTokenHash(out.token));
    expect(new Date(out.expires).getTime() - stored!.createdAt.getTime()).toBe(90 * 86_400_000);
    // Neither the token nor anything of it in the ledger's file: only the hash.
    const file = readFileSync(path.join(t.dir, 'ledger.sqlite3')).toString('latin1') + readFileSync(path.join(t.dir, 'ledger.sqlite3-wal')).toString('latin1');
    expect(file).not.toContain(out.token);
    expect(file).not.toContain(out.token.slice('cm_admin_'.length));
    const audit = await t.ledger.auditTrail('admin-token:alice');
    expect(audit.map((a) => [a.actor, a.action])).toEqual([['operator:root', 'admin-token-create']]);
    expect(JSON.stringify(audit)).not.toContain(out.token);

    const text = await certmint(['admin', 'token', 'create', '--name', 'bob', '--role', 'viewer']);
    const token = /^token: (cm_admin_\S+)$/m.exec(text.stdout)?.[1];
    registerSecrets([token!]);
    expect(text.stdout).toMatch(/^name bob, role viewer, no expiry$/m);
    expect(text.stdout).toMatch(/shown only now/);
  });

  it('list shows names, roles and states, never a token or a hash', async () => {
    const json = JSON.parse((await certmint(['admin', 'token', 'list', '--json'])).stdout);
    expect(json.map((x: Record<string, unknown>) => [x.name, x.role, x.state, x.revokedAt, x.lastUsedAt])).toEqual([
      ['alice', 'operator', 'active', null, null],
      ['bob', 'viewer', 'active', null, null],
    ]);
    for (const x of json) expect(Object.keys(x).sort()).toEqual(['createdAt', 'expiresAt', 'lastUsedAt', 'name', 'revokedAt', 'role', 'state']);
    const table = (await certmint(['admin', 'token', 'list'])).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^NAME\s+ROLE\s+STATE\s+CREATED\s+EXPIRES\s+LAST USED$/);
    expect(table.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([['alice', 'operator', 'active'], ['bob', 'viewer', 'active']]);
    expect(table.join('\n')).not.toMatch(/cm_admin_/);
  });

  it('refuses an unknown role, a bad duration, a duplicate name, a bad name, in one line, exit 1, nothing written', async () => {
    const before = await ledgerState();
    const cases: [string[], RegExp][] = [
      [['--name', 'carol', '--role', 'admin'], /^certmint: role "admin" is not one of viewer, operator\n$/],
      [['--name', 'carol', '--role', 'viewer', '--expires', 'soon'], /^certmint: --expires: invalid duration "soon"/],
      [['--name', 'carol', '--role', 'viewer', '--expires', '0d'], /^certmint: --expires: "0d" is no time at all/],
      [['--name', 'alice', '--role', 'viewer'], /^certmint: there is already an admin token named "alice"; revoke it first/],
      [['--name', 'has space', '--role', 'viewer'], /^certmint: admin token name "has space" must be/],
    ];
    for (const [args, message] of cases) {
      const r = await certmint(['admin', 'token', 'create', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
    // A missing --role is commander's (its usage follows the error line).
    const noRole = await certmint(['admin', 'token', 'create', '--name', 'carol']);
    expect([noRole.code, noRole.stderr.split('\n')[0]]).toEqual([1, "error: required option '--role <role>' not specified"]);
    expect(await ledgerState()).toEqual(before);
  });

  it('revoke NAME revokes it, audited; a second revoke or an unknown name is one line, exit 1', async () => {
    const r = await certmint(['admin', 'token', 'revoke', 'bob']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'revoked admin token bob\n', '']);
    expect((await t.ledger.auditTrail('admin-token:bob')).map((a) => [a.actor, a.action])).toEqual([
      ['operator:root', 'admin-token-create'],
      ['operator:root', 'admin-token-revoke'],
    ]);
    const before = await ledgerState();
    for (const name of ['bob', 'nobody']) {
      const again = await certmint(['admin', 'token', 'revoke', name]);
      expect([again.code, again.stderr]).toEqual([1, `certmint: there is no unrevoked admin token named "${name}"\n`]);
    }
    expect(await ledgerState()).toEqual(before);
    const listed = JSON.parse((await certmint(['admin', 'token', 'list', '--json'])).stdout);
    expect(listed.map((x: Record<string, unknown>) => [x.name, x.state])).toEqual([['alice', 'active'], ['bob', 'revoked']]);
    // The name is free again for a new token.
    const again = await certmint(['admin', 'token', 'create', '--name', 'bob', '--role', 'viewer', '--json']);
    registerSecrets([JSON.parse(again.stdout).token]);
    expect(again.code).toBe(0);
  });
});
