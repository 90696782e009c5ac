import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';

let t: TestAcmeApp;
beforeAll(async () => {
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

describe('/ready', () => {
  it('is ready while the ledger commits, 503 while another process holds its write lock, and ready again after', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ status: 'ready' });
    // What an operator's sqlite3 shell (or a stuck second process) does: take the write lock and keep it.
    const other = new Database(path.join(t.dir, 'ledger.sqlite3'), { fileMustExist: true });
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      const blocked = await t.app.inject({ method: 'GET', url: '/ready' });
      expect(blocked.statusCode).toBe(503);
      expect(blocked.json()).toMatchObject({ status: 'unavailable', detail: expect.stringMatching(/locked|busy/i) });
      // Liveness is not readiness: the process is up.
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    const probe = new Database(path.join(t.dir, 'ledger.sqlite3'), { readonly: true });
    try {
      expect(probe.prepare('SELECT COUNT(*) AS n FROM readiness_probe').get()).toEqual({ n: 1 });
    } finally {
      probe.close();
    }
  });
});
