import { afterAll, beforeAll } from 'vitest';
import { postgresLedgerOption, startTestAcmeApp, type TestAcmeApp, type TestAcmeAppOptions } from './acme-app.js';
import { startPostgres, type PostgresCluster } from './postgres.js';
import type { LedgerBackendName } from './ledger-backends.js';

/**
 * Inside a describe: one TestAcmeApp for its tests, started before them and closed after them. On
 * 'postgres' its ledger is a new database of a throw-away cluster of its own (stopped after).
 * `ready` gets the app before any test runs: the describe keeps it (`t = app`) and makes there
 * what its tests share (admin tokens, accounts).
 */
export function useTestAcmeApp(
  o: TestAcmeAppOptions & { readonly backend?: LedgerBackendName },
  ready: (app: TestAcmeApp) => void | Promise<void>,
): void {
  let app: TestAcmeApp | undefined;
  let cluster: PostgresCluster | undefined;
  beforeAll(async () => {
    const { backend = 'sqlite', ...options } = o;
    if (backend === 'postgres') cluster = await startPostgres();
    app = await startTestAcmeApp({ ...options, ...postgresLedgerOption(await cluster?.createDatabase()) });
    await ready(app);
  }, 120_000);
  afterAll(async () => {
    try {
      await app?.close();
    } finally {
      await cluster?.stop();
    }
  }, 60_000);
}
