import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end suites bind real ports and spawn real clients; files run in parallel
    // but each picks its own free ports.
    pool: 'forks',
  },
});
