import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SecretBox } from '../../src/ca/secret-box.js';

/**
 * What must never appear in a log line of certmint: every secret a data dir holds, in the forms
 * a careless log call would print it. Read from the data dir itself after the fact, so a test does
 * not need to know which secrets its server made:
 *   - any PEM private key block (the marker alone is enough);
 *   - each line of every CA private key file's PEM body (plain or encrypted PKCS#8, pending keys);
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
  }
  const ledgerFile = path.join(dataDir, 'ledger.sqlite3');
  if (existsSync(path.join(caDir, 'secrets.key')) && existsSync(ledgerFile)) {
    const box = await SecretBox.open(caDir);
    const db = new Database(ledgerFile, { readonly: true, fileMustExist: true });
    try {
      for (const row of db.prepare('SELECT kid, hmac_sealed FROM eab_keys').all() as { kid: string; hmac_sealed: Buffer }[]) {
        found.push(...forms(box.open(row.hmac_sealed, row.kid)));
      }
    } finally {
      db.close();
    }
  }
  return found;
}

function forms(secret: Buffer): string[] {
  return [secret.toString('base64url'), secret.toString('base64'), secret.toString('hex')];
}

/** The lines of `output` that hold a secret, each shortened so the report does not repeat the secret. */
export function linesLeakingSecrets(output: string, secrets: readonly string[]): string[] {
  return output
    .split('\n')
    .filter((line) => /PRIVATE KEY-----/.test(line) || secrets.some((s) => line.includes(s)))
    .map((line) => `${line.slice(0, 80).replace(/[A-Za-z0-9+/_-]{20,}/g, '<redacted>')}…`);
}
