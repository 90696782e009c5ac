import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The kill -9 tests run on their own: npm run test:crash (vitest.crash.config.ts).
    exclude: [...configDefaults.exclude, 'test/crash/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end suites bind real ports and spawn real clients; files run in parallel
    // but each picks its own free ports.
    pool: 'forks',
    // Every log line of the run is scanned for secrets at its end.
    globalSetup: ['test/support/log-scan-setup.ts'],
  },
});
