import { describe, expect, it } from 'vitest';
import { randomId, randomOctets } from './ids.js';

describe('randomOctets', () => {
  it('hands out each byte of its pool once: slices taken before a refill keep their bytes', () => {
    // 3 pools' worth of 16-byte slices, kept as views, then compared with copies taken at once.
    const views = Array.from({ length: 3 * (4096 / 16) + 5 }, () => randomOctets(16));
    const copies = views.map((v) => Buffer.from(v));
    randomOctets(4096); // a further refill
    views.forEach((v, i) => expect(v.equals(copies[i]!)).toBe(true));
    expect(new Set(copies.map((c) => c.toString('hex'))).size).toBe(copies.length);
  });

  it('serves a request larger than the pool from a buffer of its own', () => {
    const big = randomOctets(10_000);
    expect(big.length).toBe(10_000);
    expect(new Set(big).size).toBeGreaterThan(200);
  });
});

describe('randomId', () => {
  it('is base64url of the asked bytes, never starting with - or _, and distinct across pool refills', () => {
    const ids = Array.from({ length: 2000 }, () => randomId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    expect(randomId(32)).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{42}$/);
  });
});
