import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPkcs11PinFile } from './pin-file.js';

describe('ca.pkcs11.pinFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-pin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pinFile = (name: string, text: string, mode = 0o600): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
    return file;
  };

  it('drops one trailing newline and keeps the rest', () => {
    expect(readPkcs11PinFile(pinFile('lf', '1234\n'))).toBe('1234');
    expect(readPkcs11PinFile(pinFile('crlf', '1234\r\n'))).toBe('1234');
    expect(readPkcs11PinFile(pinFile('two', ' 12 34\n\n', 0o400))).toBe(' 12 34\n');
  });

  it('refuses a file others can read, a missing file and an empty PIN, without the PIN in the message', () => {
    expect(() => readPkcs11PinFile(pinFile('loose', 'secret-pin-77\n', 0o644))).toThrow(/PKCS#11 PIN file .*loose \(ca\.pkcs11\.pinFile\)/);
    expect(() => readPkcs11PinFile(pinFile('loose2', 'secret-pin-77\n', 0o644))).not.toThrow(/secret-pin-77/);
    expect(() => readPkcs11PinFile(path.join(dir, 'missing'))).toThrow(/missing \(ca\.pkcs11\.pinFile\) cannot be read/);
    expect(() => readPkcs11PinFile(pinFile('empty', '\n'))).toThrow(/is empty/);
  });
});
