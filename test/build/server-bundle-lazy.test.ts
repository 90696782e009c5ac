import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireBuiltCli } from '../support/cli.js';

// The built server loads what an ACME-only start does not need on first use (`await import()` in
// the sources; esbuild initializes such a module of dist/cli/server.cjs only when it is imported):
// the admin API and console with admin.enabled, the PKCS#11 binding with ca.keyProvider pkcs11, the
// PostgreSQL driver with ledger.url. A lazy path that breaks in the bundle only shows when it runs:
// the admin API and console on the ACME listener run here (admin.listen: test/e2e/admin-api.test.ts;
// PKCS#11: test/e2e/hsm.test.ts; PostgreSQL: test/e2e/ledger-outage.test.ts).
let certmint: CertmintProcess;

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca: certmint.rootPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
    })
      .on('error', reject)
      .end();
  });
}

beforeAll(async () => {
  requireBuiltCli();
  certmint = await startCertmint({ config: { admin: { enabled: true } } });
});
afterAll(async () => {
  await certmint?.stop();
});

describe('the built server, admin.enabled on the ACME listener', () => {
  it('serves the console (its sign-in page and the assets it names) and the admin API', async () => {
    const login = await get(`${certmint.directUrl}/console/login`);
    expect(login.status).toBe(200);
    expect(login.type).toContain('text/html');
    // The bundle is ASCII: the console's own characters come out of its escapes as they were.
    expect(login.body).toContain('· certmint</title>');
    const assets = [...login.body.matchAll(/(?:href|src)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect((await get(`${certmint.directUrl}${asset}`)).status, asset).toBe(200);
    const api = await get(`${certmint.directUrl}/api/v1/certificates`);
    expect(api.status).toBe(401);
    expect(api.type).toContain('application/problem+json');
  });

  it('never loaded the PKCS#11 binding (ca.keyProvider file): only the SQLite one is mapped', () => {
    const maps = readFileSync(`/proc/${certmint.process.pid}/maps`, 'utf8');
    expect(maps).toContain('better_sqlite3.node');
    expect(maps).not.toContain('pkcs11.node');
  });
});
