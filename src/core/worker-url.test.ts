import { describe, expect, it } from 'vitest';
import { workerUrl } from './worker-url.js';

describe('workerUrl', () => {
  it('is the sibling .js of a built module, an ES module of tsc or the CommonJS server bundle', () => {
    expect(workerUrl('file:///srv/certmint/dist/ledger/sqlite/crl.js', 'revoked-worker').href).toBe('file:///srv/certmint/dist/ledger/sqlite/revoked-worker.js');
    // Every import.meta.url in dist/cli/server.cjs is the bundle's own (scripts/build-server.mjs).
    expect(workerUrl('file:///srv/certmint/dist/cli/server.cjs', 'revoked-worker').href).toBe('file:///srv/certmint/dist/cli/revoked-worker.js');
  });
});
