import { defineConfig } from 'vitest/config';

// `npm run test:crash`: the kill -9 tests, on their own (they load both cores for a minute or two).
export default defineConfig({
  test: {
    include: ['test/crash/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Every log line of the run is scanned for secrets at its end.
    globalSetup: ['test/support/log-scan-setup.ts'],
  },
});
