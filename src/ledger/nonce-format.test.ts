import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NonceFormat } from './nonce-format.js';

describe('NonceFormat', () => {
  const now = 1_800_000_000_000;

  it('nonces issued in one millisecond differ, across refills of the random pool, and each opens', () => {
    const format = NonceFormat.withRandomSecret();
    const nonces = Array.from({ length: 5_000 }, () => format.issue(now));
    expect(new Set(nonces).size).toBe(nonces.length);
    const bodies = new Set(nonces.map((n) => format.open(n, now)?.body.toString('hex')));
    expect(bodies.size).toBe(nonces.length);
    expect(nonces.every((n) => /^[A-Za-z0-9_-]{43}$/.test(n))).toBe(true);
  });

  it('carries its origin under the tag; a format of another origin length, or another secret, refuses it', () => {
    const secret = randomBytes(32);
    const origin = Buffer.from('0001a1b2c3d4e5f6', 'hex');
    const worker = new NonceFormat(secret, undefined, origin);
    const nonce = worker.issue(now);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{54}$/);
    expect(new NonceFormat(secret, undefined, Buffer.alloc(8)).open(nonce, now)?.origin).toEqual(origin);
    expect(new NonceFormat(secret).open(nonce, now)).toBeUndefined();
    expect(new NonceFormat(randomBytes(32), undefined, origin).open(nonce, now)).toBeUndefined();
    // The origin cannot be rewritten: it is under the tag.
    const moved = Buffer.from(nonce, 'base64url');
    moved[7]! ^= 1;
    expect(worker.open(moved.toString('base64url'), now)).toBeUndefined();
  });
});
