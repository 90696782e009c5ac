import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { newAccountKey } from '../support/jws-client.js';

// The ledger's disk fills up under a running `certmint serve` (its data dir on a 3 MB tmpfs in its
// own mount namespace, as root): writes get a serverInternal problem, nothing is half-written,
// /ready fails, and everything works again by itself once space is freed.
const isRoot = process.getuid?.() === 0;

let certmint: CertmintProcess;
beforeAll(async () => {
  if (!isRoot) return;
  certmint = await startCertmint({ tmpfsDataDir: '3m' });
});
afterAll(async () => certmint?.stop());

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: certmint.rootPem, agent: false, timeout: 15_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

/** One newAccount request, signed with a fresh key and a fresh nonce; no client retries (acme-client retries 5xx for 30 s). */
async function newAccount(): Promise<{ status: number; problem?: { type: string; detail: string } }> {
  const key = await newAccountKey();
  const nonce = (await send('HEAD', `${certmint.baseUrl}/acme/new-nonce`)).headers['replay-nonce'];
  const url = `${certmint.baseUrl}/acme/new-account`;
  const jws = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.internal'] })))
    .setProtectedHeader({ alg: key.alg, jwk: key.jwk, nonce: String(nonce), url })
    .sign(key.privateKey);
  const res = await send('POST', url, JSON.stringify(jws));
  return { status: res.status, ...(res.status >= 400 ? { problem: JSON.parse(res.body) as { type: string; detail: string } } : {}) };
}

function send(method: string, url: string, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: certmint.rootPem, agent: false, timeout: 15_000, headers: body ? { 'content-type': 'application/jose+json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.once('error', reject);
    req.end(body);
  });
}

/** Accounts in the ledger, as `certmint accounts list` (run in the server's mount namespace) shows them. */
async function accountCount(): Promise<number> {
  const r = await certmint.cli(['accounts', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

describe.skipIf(!isRoot)('a full disk under the ledger', () => {
  it('answers writes with serverInternal, fails /ready, writes nothing half, and recovers by itself', { timeout: 90_000 }, async () => {
    const dataDir = certmint.dataDirView;
    expect((await newAccount()).status).toBe(201);
    expect(await get(`${certmint.baseUrl}/ready`)).toBe(200);
    const before = await accountCount();

    // Fill the tmpfs to the last byte (statfs through /proc/<pid>/root reports this namespace's
    // root, so write until ENOSPC instead; the tmpfs is 3 MB, 16 MB is a safe bound).
    const filler = path.join(dataDir, 'filler');
    const fd = openSync(filler, 'w');
    let full = false;
    try {
      for (let written = 0; written < 16 * 1024 * 1024 && !full; written += 4096) {
        try {
          writeSync(fd, Buffer.alloc(4096));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          full = true;
        }
      }
    } finally {
      closeSync(fd);
    }
    expect(full, 'the tmpfs should have filled up').toBe(true);
    for (let i = 0; i < 3; i++) {
      const refused = await newAccount();
      expect(refused.status, JSON.stringify(refused.problem)).toBe(500);
      expect(refused.problem?.type).toBe('urn:ietf:params:acme:error:serverInternal');
    }
    expect(await get(`${certmint.baseUrl}/ready`)).toBe(503);
    // Liveness is not readiness.
    expect(await get(`${certmint.baseUrl}/health`)).toBe(200);

    // Space comes back: the server needs nothing but the next request.
    unlinkSync(filler);
    expect(await get(`${certmint.baseUrl}/ready`)).toBe(200);
    expect((await newAccount()).status).toBe(201);
    // The refused accounts left no row: only the one made after the space came back is new.
    expect(await accountCount()).toBe(before + 1);
    const output = certmint.output();
    expect(output).toMatch(/SQLITE_FULL|database or disk is full/);
  });
});
