import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

const WORKER_SUITES = ['src/acme/hostile-input.test.ts', 'src/acme/jws.test.ts', 'src/acme/concurrency.test.ts', 'src/acme/finalize.test.ts'];

export default defineConfig({
  test: {
    // The kill -9 tests run on their own: npm run test:crash (vitest.crash.config.ts).
    exclude: [...configDefaults.exclude, 'test/crash/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end suites bind real ports and spawn real clients; files run in parallel
    // but each picks its own free ports.
    pool: 'forks',
    // Most files wait on processes, sockets and timers, not on the CPU: two at a time even on two
    // cores (vitest's default there is one). Measured on the 2-core CI machine: 463 s against 661 s
    // for the whole suite, with the timing-bound suites (outage, failover, slow clients) passing.
    maxWorkers: Math.min(4, Math.max(2, availableParallelism())),
    // Every log line of the run is scanned for secrets at its end.
    globalSetup: ['test/support/log-scan-setup.ts'],
    projects: [
      { extends: true, test: { name: 'certmint', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] } },
      {
        // The hostile-input and race suites again, their ledger opened as a worker of
        // server.workers opens it (signed nonces spent in the SQLite file, a ledger_holders row):
        // what issue 27 asks of several workers on one SQLite ledger (test/support/acme-app.ts).
        extends: true,
        test: {
          name: 'sqlite-workers',
          include: WORKER_SUITES,
          env: { CERTMINT_TEST_SQLITE_WORKERS: '1' },
        },
      },
    ],
  },
});
