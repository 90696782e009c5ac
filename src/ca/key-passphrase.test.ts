import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { configuredKeyPassphrase, KeyPassphrase } from './key-passphrase.js';

const dir = mkdtempSync(join(tmpdir(), 'certmint-passphrase-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, contents: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, contents, { mode });
  return file;
}

describe('configuredKeyPassphrase', () => {
  it('reads the file without its trailing newline, and prefers it to the environment variable', () => {
    const file = secretFile('pass', 'from the file\n');
    const p = configuredKeyPassphrase(file, { CERTMINT_CA_KEY_PASSPHRASE: 'from the env' })!;
    expect(p.bytes().toString()).toBe('from the file');
    expect(p.source).toBe(`the file ${file} (ca.keyPassphraseFile)`);
    expect(configuredKeyPassphrase(secretFile('crlf', 'x y\r\n'), {})!.bytes().toString()).toBe('x y');
  });

  it('takes CERTMINT_CA_KEY_PASSPHRASE without a file; nothing, or an empty variable, is no passphrase', () => {
    expect(configuredKeyPassphrase(undefined, { CERTMINT_CA_KEY_PASSPHRASE: 'env pass' })!.bytes().toString()).toBe('env pass');
    expect(configuredKeyPassphrase(undefined, { CERTMINT_CA_KEY_PASSPHRASE: '' })).toBeUndefined();
    expect(configuredKeyPassphrase(undefined, {})).toBeUndefined();
  });

  it('refuses a passphrase file others may read, an empty one and a missing one', () => {
    const loose = secretFile('loose', 'pass\n', 0o644);
    expect(() => configuredKeyPassphrase(loose, {})).toThrow(`the CA key passphrase file ${loose} (ca.keyPassphraseFile) has mode 0644`);
    expect(() => configuredKeyPassphrase(loose, {})).toThrow(`chmod 600 ${loose}`);
    expect(() => configuredKeyPassphrase(secretFile('empty', '\n'), {})).toThrow('is empty');
    expect(() => configuredKeyPassphrase(join(dir, 'nope'), {})).toThrow(/cannot be read: ENOENT/);
  });

  it('never prints the passphrase', () => {
    const p = new KeyPassphrase(Buffer.from('hunter2'), 'a test');
    for (const shown of [String(p), JSON.stringify({ p }), inspect({ p }), `${p}`]) expect(shown).not.toContain('hunter2');
  });
});
