import { createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SecretBox } from '../../src/ca/secret-box.js';
import { registerSecrets, type CapturedLogger } from './suite-log.js';

/**
 * What must never appear in a log line of certmint: every secret a data dir holds, in the forms
 * a careless log call would print it. Read from the data dir itself after the fact, so a test does
 * not need to know which secrets its server made:
 *   - any PEM private key block (the marker alone is enough);
 *   - each line of every CA private key file's PEM body (plain or encrypted PKCS#8, pending keys),
 *     which any base64 of the same DER contains too;
 *   - the private numbers of each CA key that can be read (plain, or with a passphrase given), as
 *     a JWK or a debugger would print them: base64url, base64 and hex;
 *   - the EAB sealing key (secrets.key) and every EAB HMAC key in the ledger, unsealed with it,
 *     as base64url, base64 and hex;
 *   - the CA key passphrase the test gave the server.
 */
export async function secretsOfDataDir(dataDir: string, passphrases: readonly string[] = []): Promise<string[]> {
  const found: string[] = [...passphrases.filter((p) => p.length >= 4)];
  const caDir = path.join(dataDir, 'ca');
  if (!existsSync(caDir)) return found;
  for (const name of await readdir(caDir)) {
    if (!/key/.test(name)) continue;
    const text = await readFile(path.join(caDir, name), 'utf8');
    if (name === 'secrets.key') {
      found.push(...forms(Buffer.from(text.trim(), 'base64')));
      continue;
    }
    // PEM body lines are 64 characters; shorter last lines are too common a substring to look for.
    found.push(...text.split('\n').filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l)));
    found.push(...privateNumbers(text, passphrases));
  }
  const ledgerFile = path.join(dataDir, 'ledger.sqlite3');
  if (existsSync(path.join(caDir, 'secrets.key')) && existsSync(ledgerFile)) {
    const box = await SecretBox.open(caDir);
    await withLedgerCopy(ledgerFile, (file) => {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        for (const row of db.prepare('SELECT kid, hmac_sealed FROM eab_keys').all() as { kid: string; hmac_sealed: Buffer }[]) {
          found.push(...forms(box.open(row.hmac_sealed, row.kid)));
        }
      } finally {
        db.close();
      }
    });
  }
  return found;
}

/**
 * Runs `read` on the ledger, or on a copy of it (with its WAL) when it lies in another mount
 * namespace: SQLite resolves symbolic links itself, and /proc/<pid>/root reads back as "/".
 */
async function withLedgerCopy(ledgerFile: string, read: (file: string) => void): Promise<void> {
  if (!/^\/proc\/\d+\/root\//.test(ledgerFile)) {
    read(ledgerFile);
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'certmint-scan-'));
  try {
    const copy = path.join(dir, 'ledger.sqlite3');
    await copyFile(ledgerFile, copy);
    if (existsSync(`${ledgerFile}-wal`)) await copyFile(`${ledgerFile}-wal`, `${copy}-wal`);
    read(copy);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The private members of a PEM key's JWK (d; p, q, dp, dq, qi for RSA) in every encoding, or none when it cannot be read. */
function privateNumbers(pem: string, passphrases: readonly string[]): string[] {
  if (!pem.includes('PRIVATE KEY-----')) return [];
  for (const passphrase of [undefined, ...passphrases]) {
    try {
      const jwk = createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase }).export({ format: 'jwk' });
      return (['d', 'p', 'q', 'dp', 'dq', 'qi'] as const)
        .map((member) => jwk[member])
        .filter((v): v is string => typeof v === 'string')
        .flatMap((v) => forms(Buffer.from(v, 'base64url')));
    } catch {
      // encrypted with another passphrase, or not a key node reads: its PEM lines are still looked for
    }
  }
  return [];
}

function forms(secret: Buffer): string[] {
  return [secret.toString('base64url'), secret.toString('base64'), secret.toString('hex')];
}

/**
 * Closes a test's logger and checks what it wrote against the secrets of `dataDir` (also
 * registered for the scan of the whole run's logs); throws when a line holds one. Call it before
 * the data dir is removed.
 */
export async function checkCapturedLog(captured: CapturedLogger, dataDir: string, passphrases: readonly string[] = []): Promise<void> {
  captured.close();
  const secrets = await secretsOfDataDir(dataDir, passphrases);
  registerSecrets(secrets);
  const leaks = linesLeakingSecrets(captured.text(), secrets);
  if (leaks.length > 0) throw new Error(`logged secrets in ${leaks.length} line(s):\n${leaks.join('\n')}`);
}

/** The lines of `output` that hold a secret, each shortened so the report does not repeat the secret. */
export function linesLeakingSecrets(output: string, secrets: readonly string[]): string[] {
  const leaks = leakFinder(secrets);
  return output.split('\n').filter(leaks).map(redacted);
}

function redacted(line: string): string {
  return `${line.slice(0, 80).replace(/[A-Za-z0-9+/_-]{20,}/g, '<redacted>')}…`;
}

/** Secrets at least this long that look like encoded bytes are found by an index on their first characters. */
const INDEXED = 24;
const ENCODED_RUN = /[A-Za-z0-9+/=_-]{24,}/g;

/**
 * Whether a line holds any PEM private key block or any of `secrets`. Fast for thousands of
 * secrets over a whole run's logs: an encoded secret (base64, base64url, hex) can only sit inside a
 * run of those characters, so only such runs are looked at, by the first 24 characters of each
 * secret; other secrets (passphrases) are looked for as they are.
 */
export function leakFinder(secrets: readonly string[]): (line: string) => boolean {
  const byPrefix = new Map<string, string[]>();
  const phrases: string[] = [];
  for (const secret of new Set(secrets)) {
    if (secret.length >= INDEXED && /^[A-Za-z0-9+/=_-]+$/.test(secret)) {
      const prefix = secret.slice(0, INDEXED);
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), secret]);
    } else if (secret.length > 0) {
      phrases.push(secret);
    }
  }
  return (line) => {
    if (line.includes('PRIVATE KEY-----')) return true;
    if (phrases.some((p) => line.includes(p))) return true;
    if (byPrefix.size === 0) return false;
    for (const [run] of line.matchAll(ENCODED_RUN)) {
      for (let i = 0; i + INDEXED <= run.length; i++) {
        const candidates = byPrefix.get(run.slice(i, i + INDEXED));
        if (candidates?.some((secret) => run.startsWith(secret, i))) return true;
      }
    }
    return false;
  };
}

export interface LogDirScan {
  readonly files: number;
  readonly lines: number;
  readonly bytes: number;
  readonly secrets: number;
  /** `<file>: <line, shortened and redacted>` for each line that leaks. */
  readonly leaks: readonly string[];
  readonly ms: number;
}

/**
 * Scans every `*.log` file of a run's log directory (suite-log.ts) for PEM private keys and for
 * every secret registered in its `secrets/` (JSON arrays of strings).
 */
export async function scanLogDir(dir: string): Promise<LogDirScan> {
  const started = performance.now();
  const secrets: string[] = [];
  const secretsDir = path.join(dir, 'secrets');
  if (existsSync(secretsDir)) {
    for (const name of await readdir(secretsDir)) secrets.push(...(JSON.parse(await readFile(path.join(secretsDir, name), 'utf8')) as string[]));
  }
  const leaks = leakFinder(secrets);
  let files = 0;
  let lines = 0;
  let bytes = 0;
  const found: string[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.log')).sort()) {
    const text = await readFile(path.join(dir, name), 'utf8');
    files++;
    bytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      lines++;
      if (leaks(line)) found.push(`${name}: ${redacted(line)}`);
    }
  }
  return { files, lines, bytes, secrets: new Set(secrets).size, leaks: found, ms: Math.round(performance.now() - started) };
}
