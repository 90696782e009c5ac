// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { makeCsr } from '../support/csr.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { freePort } from '../support/ports.js';
import { registerSecrets } from '../support/suite-log.js';

// Issue 25, admin client certificates: a real `certmint serve` with admin.listen and
// admin.clientCertificates, certificates made by the real CLI, requests over real TLS. The ledger
// decides on every request (a revocation bites on the same connection); a certificate obtained
// over ACME is refused, whatever it says; bearer tokens keep working beside certificates.
let certmint: CertmintProcess;
let responder: Http01Responder;
let wire: AcmeWire;
let account: WireAccount;
let adminUrl: string;
let out: string;

interface Credential {
  readonly cert: string;
  readonly key: string;
}
interface Answer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

const UNAUTHORIZED = 'urn:ietf:params:acme:error:unauthorized';
const credential = (name: string): Credential => ({ cert: readFileSync(path.join(out, `${name}.crt`), 'utf8'), key: readFileSync(path.join(out, `${name}.key`), 'utf8') });

function call(method: string, url: string, o: { client?: Credential; agent?: Agent; bearer?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ...(o.agent ? { agent: o.agent } : { ca: certmint.rootPem, agent: false, ...(o.client ?? {}) }),
        headers: {
          ...(o.bearer ? { authorization: `Bearer ${o.bearer}` } : {}),
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }));
      },
    );
    req.on('error', reject);
    req.end(o.body !== undefined ? JSON.stringify(o.body) : undefined);
  });
}

async function cli(args: string[]): Promise<string> {
  const r = await certmint.cli(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** A certificate issued over ACME (the default profile: serverAuth and clientAuth) with its key. */
async function acmeLeaf(name: string): Promise<Credential & { serial: string }> {
  const order = await wire.readyOrder(account, [name], responder);
  const csr = await makeCsr([name]);
  const fin = await wire.post(account.key, order.finalize, { csr: Buffer.from(csr.der).toString('base64url') }, account.url);
  expect(fin.status, fin.body).toBe(200);
  const certUrl = String((JSON.parse(fin.body) as { certificate: string }).certificate);
  const chain = await wire.post(account.key, certUrl, '', account.url);
  const key = KeyObject.from(csr.keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { cert: chain.body, key, serial: certUrl.split('/').pop()! };
}

async function issue(name: string): Promise<string> {
  return (await acmeLeaf(name)).serial;
}

beforeAll(async () => {
  requireBuiltCli();
  const port = await freePort();
  adminUrl = `https://127.0.0.1:${port}/api/v1`;
  certmint = await startCertmint({ config: { admin: { enabled: true, listen: `127.0.0.1:${port}` } } });
  out = path.join(certmint.tempDir, 'admin-certs');
  await mkdir(out);
  await cli(['admin', 'cert', 'create', '--name', 'vic', '--role', 'viewer', '--out', out]);
  await cli(['admin', 'cert', 'create', '--name', 'olga', '--role', 'operator', '--out', out]);
  await cli(['admin', 'cert', 'create', '--name', 'gone', '--role', 'operator', '--out', out]);
  // The listener trusts the admin issuer the CLI just made: turned on now, as an operator would.
  certmint = await certmint.restart(undefined, { env: { CERTMINT_ADMIN_CLIENT_CERTIFICATES: 'true' } });
  responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
  wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
  account = (await wire.newAccount()).account!;
}, 120_000);

afterAll(async () => {
  await responder?.stop();
  await certmint?.stop();
});

describe('admin client certificates on admin.listen (a real certmint serve, real TLS)', () => {
  it('a viewer certificate reads and gets 403 on a revocation, which changes nothing', async () => {
    const serial = await issue('kept.admin-mtls.test');
    const list = await call('GET', `${adminUrl}/certificates`, { client: credential('vic') });
    expect(list.status).toBe(200);
    expect((list.json.certificates as { serial: string }[]).map((c) => c.serial)).toContain(serial);
    const before = await certmint.showCertificate(serial);
    const refused = await call('POST', `${adminUrl}/certificates/${serial}/revoke`, { client: credential('vic'), body: { reason: 'keyCompromise' } });
    expect([refused.status, refused.json.type, refused.json.detail]).toEqual([403, UNAUTHORIZED, 'revoking a certificate needs an operator certificate; vic is a viewer']);
    expect(await certmint.showCertificate(serial)).toEqual(before);
  });

  it("an operator certificate revokes, audited as admin:<name>; from a web page (Origin) it is refused", async () => {
    const serial = await issue('revoked.admin-mtls.test');
    const fromPage = await call('POST', `${adminUrl}/certificates/${serial}/revoke`, { client: credential('olga'), body: { reason: 'keyCompromise' }, headers: { origin: 'https://evil.example' } });
    expect([fromPage.status, fromPage.json.type]).toEqual([403, UNAUTHORIZED]);
    expect((await certmint.showCertificate(serial)).status).toBe('valid');
    const res = await call('POST', `${adminUrl}/certificates/${serial}/revoke`, { client: credential('olga'), body: { reason: 'keyCompromise' } });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const shown = await certmint.showCertificate(serial);
    expect(shown.status).toBe('revoked');
    expect((shown.audit as { actor: string; action: string }[]).at(-1)).toMatchObject({ actor: 'admin:olga', action: 'revoke' });
  });

  it('a revoked admin certificate gets 401 on the very next request, on the same TLS connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: certmint.rootPem, ...credential('gone') });
    try {
      const sockets = new Set<unknown>();
      agent.on('free', (socket) => sockets.add(socket));
      expect((await call('GET', `${adminUrl}/summary`, { agent })).status).toBe(200);
      expect(await cli(['admin', 'cert', 'revoke', 'gone'])).toBe('revoked the admin certificate of gone\n');
      const after = await call('GET', `${adminUrl}/summary`, { agent });
      expect([after.status, after.json.type, after.json.detail]).toEqual([401, UNAUTHORIZED, 'this admin certificate (gone) is revoked']);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
    const listed = JSON.parse(await cli(['admin', 'cert', 'list', '--json'])) as { name: string; state: string }[];
    expect(listed.map((c) => [c.name, c.state])).toEqual([['vic', 'active'], ['olga', 'active'], ['gone', 'revoked']]);
  });

  it('a certificate issued over ACME, presented as a client certificate, gets 401 and is never looked up', async () => {
    const leaf = await acmeLeaf('client.admin-mtls.test');
    const res = await call('GET', `${adminUrl}/certificates`, { client: leaf });
    expect([res.status, res.json.type]).toEqual([401, UNAUTHORIZED]);
    expect(res.json.detail).toMatch(/^the client certificate was not issued by the admin issuer/);
  });

  it('bearer tokens keep working beside certificates; without either it is 401', async () => {
    const token = JSON.parse(await cli(['admin', 'token', 'create', '--name', 'tok', '--role', 'viewer', '--json'])).token as string;
    registerSecrets([token]);
    expect((await call('GET', `${adminUrl}/certificates`, { bearer: token })).status).toBe(200);
    const none = await call('GET', `${adminUrl}/certificates`);
    expect([none.status, none.json.type]).toEqual([401, UNAUTHORIZED]);
  });

  it('without admin.listen, or before any admin certificate exists, serve exits 1 with one line', { timeout: 60_000 }, async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'certmint-admin-mtls-'));
    try {
      const env = { CERTMINT_DATA_DIR: path.join(base, 'data'), CERTMINT_SERVER_LISTEN: `127.0.0.1:${await freePort()}`, CERTMINT_ADMIN_ENABLED: 'true', CERTMINT_ADMIN_CLIENT_CERTIFICATES: 'true' };
      const alone = await runCli(['serve'], env);
      expect(alone.code, alone.stderr).toBe(1);
      expect(alone.stderr.trimEnd().split('\n'), alone.stderr).toHaveLength(1);
      expect(alone.stderr).toMatch(/^certmint: admin\.clientCertificates needs admin\.listen/);
      const noIssuer = await runCli(['serve'], { ...env, CERTMINT_ADMIN_LISTEN: `127.0.0.1:${await freePort()}` });
      expect(noIssuer.code, noIssuer.stderr).toBe(1);
      expect(noIssuer.stderr.trimEnd().split('\n'), noIssuer.stderr).toHaveLength(1);
      expect(noIssuer.stderr).toMatch(/^certmint: admin\.clientCertificates is true but .*admin-ca\.pem does not exist yet: create the first admin certificate with certmint admin cert create$/m);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
