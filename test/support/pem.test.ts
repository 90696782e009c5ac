import { describe, expect, it } from 'vitest';
import { pemOf } from './pem.js';

describe('pemOf', () => {
  it('writes no empty line when the base64 fills its last line (48 bytes: 64 characters)', () => {
    const text = pemOf(new Uint8Array(96).fill(7));
    expect(text.split('\n')).toEqual(['-----BEGIN CERTIFICATE-----', expect.stringMatching(/^.{64}$/), expect.stringMatching(/^.{64}$/), '-----END CERTIFICATE-----', '']);
  });

  it('ends a short last line, with the label given', () => {
    expect(pemOf(new Uint8Array([1, 2, 3]), 'X509 CRL')).toBe('-----BEGIN X509 CRL-----\nAQID\n-----END X509 CRL-----\n');
  });
});
