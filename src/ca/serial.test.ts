import { describe, expect, it } from 'vitest';
import { newSerialHex } from './serial.js';

describe('newSerialHex', () => {
  it('is 0x01 then 16 random bytes, lower-case hex', () => {
    const serials = new Set(Array.from({ length: 1000 }, newSerialHex));
    expect(serials.size).toBe(1000);
    for (const serial of serials) expect(serial).toMatch(/^01[0-9a-f]{32}$/);
  });
});
