import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { certIdOf } from '../../test/support/cert-id.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';

const HOUR = 3_600_000;

// `certmint certs renew-early` (the built binary) on the data dir of a live app, as an operator
// runs the CA-compromise drill: ARI answers change at once, with no restart.
let t: TestAcmeApp;
const certs: Record<string, { serial: string; der: Buffer }> = {};

const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: t.dir });

async function window(name: string) {
  const res = await t.app.inject({ method: 'GET', url: `/acme/renewal-info/${certIdOf(certs[name]!.der)}` });
  expect(res.statusCode).toBe(200);
  const body = res.json();
  return { start: Date.parse(body.suggestedWindow.start), end: Date.parse(body.suggestedWindow.end), explanationURL: body.explanationURL };
}

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
  const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
  for (const name of ['one', 'two', 'three', 'revoked']) certs[name] = await issueCertificate(t, client, [`${name}.drill.test`]);
  await client.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: certs.revoked!.der.toString('base64url') });
});
afterAll(async () => t?.close());

describe('certmint certs renew-early', () => {
  it('refuses unclear requests with one line and marks nothing', async () => {
    const cases = [
      [['certs', 'renew-early'], /name one certificate serial, or --all/],
      [['certs', 'renew-early', certs.one!.serial, '--all'], /name one certificate serial, or --all/],
      [['certs', 'renew-early', 'not-hex'], /not a certificate serial/],
      [['certs', 'renew-early', '0badbad0'], /no certificate with serial 0badbad0/],
      [['certs', 'renew-early', certs.revoked!.serial], /is revoked/],
      [['certs', 'renew-early', certs.one!.serial, '--explanation', 'see the wiki'], /not an absolute http/],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => certmint([...args])));
    cases.forEach(([args, message], i) => {
      expect(results[i]!.code, args.join(' ')).toBe(1);
      expect(results[i]!.stderr).toMatch(message);
      expect(results[i]!.stderr.trim().split('\n')).toHaveLength(1);
    });
    for (const name of ['one', 'two', 'three']) expect(await auditAfterCreation(t.ledger, certs[name]!.serial)).toEqual([]);
    expect((await window('one')).start).toBeGreaterThan(Date.now());
  });

  it('marks one certificate: the live server at once suggests a window that has ended, with the explanation', async () => {
    const before = Date.now();
    const explanation = 'https://status.example.internal/ca-drill';
    const r = await certmint(['certs', 'renew-early', certs.one!.serial.toUpperCase(), '--explanation', explanation]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`marked ${certs.one!.serial} for renewal now; ARI clients renew at their next check (they ask every 6 h at most)\n`);
    const w = await window('one');
    expect(w.end).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(w.end).toBeLessThanOrEqual(Date.now());
    expect(w.end - w.start).toBe(HOUR);
    expect(w.explanationURL).toBe(explanation);
    const shown = await certmint(['certs', 'show', certs.one!.serial, '--json']);
    expect(JSON.parse(shown.stdout).audit).toMatchObject([{ action: 'issue' }, { action: 'renew-early', actor: expect.stringMatching(/^operator:/), explanationUrl: explanation }]);
    const again = await certmint(['certs', 'renew-early', certs.one!.serial]);
    expect(again.stdout).toMatch(/already marked/);
    expect(await auditAfterCreation(t.ledger, certs.one!.serial)).toHaveLength(1);
  });

  it('--all marks every other valid certificate, and leaves the revoked one alone', async () => {
    const r = await certmint(['certs', 'renew-early', '--all']);
    expect(r.code).toBe(0);
    const [summary, ...serials] = r.stdout.trim().split('\n');
    expect(summary).toMatch(/^marked 2 certificate\(s\) for renewal now/);
    expect(serials.sort()).toEqual([certs.two!.serial, certs.three!.serial].sort());
    for (const name of ['two', 'three']) {
      const w = await window(name);
      expect(w.end).toBeLessThanOrEqual(Date.now());
      expect(w.explanationURL).toBeUndefined();
    }
    expect(await auditAfterCreation(t.ledger, certs.revoked!.serial)).toMatchObject([{ action: 'revoke' }]);
    expect((await certmint(['certs', 'renew-early', '--all'])).stdout).toMatch(/^marked 0 certificate\(s\)/);
  });
});
