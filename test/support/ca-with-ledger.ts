import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { initCa, type CaOptions } from '../../src/ca/ca-files.js';
import { nativeCryptoProvider } from '../../src/ca/crypto-provider.js';
import type { X509CertificateAuthority } from '../../src/ca/x509-authority.js';
import type { Clock } from '../../src/core/clock.js';
import { SqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { checkCapturedLog } from './secret-scan.js';
import type { CapturedLogger } from './suite-log.js';

/** What useCaWithLedger makes: a temporary directory, a CA created in dir/ca, a ledger in dir/ledger.sqlite3. */
export interface CaWithLedger {
  readonly dir: string;
  readonly ca: X509CertificateAuthority;
  readonly ledger: SqliteLedger;
}

/**
 * At a test file's top level: a new CA (`certmint ca init` with node:crypto, URLs under https://x/
 * unless `ca` says otherwise) and a SQLite ledger beside it, on `clock` when given, in a temporary
 * directory with root.pem, chain.pem and bundle.pem (chain then roots) written for openssl.
 * `ready` gets them before the tests. After them: the ledger is closed, `captured` (the file's
 * logger, given to what the tests run) is checked for this CA's keys, and the directory removed.
 */
export function useCaWithLedger(
  o: { readonly prefix: string; readonly name: string; readonly clock?: Clock; readonly captured?: CapturedLogger; readonly ca?: Partial<CaOptions> },
  ready: (made: CaWithLedger) => void,
): void {
  let made: CaWithLedger | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `certmint-${o.prefix}-`));
    const ca = await initCa({
      dir: path.join(dir, 'ca'), name: o.name, crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/i.der', crypto: nativeCryptoProvider(), ...o.ca,
    });
    const clock = o.clock;
    const ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3'), ...(clock ? { now: () => clock.now().getTime() } : {}) });
    writeFileSync(path.join(dir, 'root.pem'), ca.rootsPem);
    writeFileSync(path.join(dir, 'chain.pem'), ca.chainPem);
    writeFileSync(path.join(dir, 'bundle.pem'), ca.chainPem + ca.rootsPem);
    made = { dir, ca, ledger };
    ready(made);
  });
  afterAll(async () => {
    await made?.ledger.close();
    try {
      if (o.captured && dir !== undefined) await checkCapturedLog(o.captured, dir);
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });
}
