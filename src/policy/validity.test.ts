import { describe, expect, it } from 'vitest';
import { BACKDATE_MS, checkRequestedValidity, leafValidity } from './validity.js';

const DAY = 86_400_000;
const policy = { defaultLifetimeMs: 45 * DAY, maxLifetimeMs: 90 * DAY };
const now = new Date('2026-06-01T00:00:00Z');

describe('validity policy', () => {
  it('defaults to now + 45 days, backdated one minute', () => {
    const v = leafValidity(now, { notBefore: undefined, notAfter: undefined }, policy);
    expect(v.notBefore.getTime()).toBe(now.getTime() - BACKDATE_MS);
    expect(v.notAfter.getTime()).toBe(now.getTime() + 45 * DAY);
  });

  it('honours a requested notAfter inside the maximum', () => {
    const notAfter = new Date(now.getTime() + 10 * DAY).toISOString();
    const r = checkRequestedValidity(now, undefined, notAfter, policy);
    expect(leafValidity(now, r, policy).notAfter.toISOString()).toBe(notAfter);
  });

  it('refuses a notAfter beyond the maximum, in the past, or not a date', () => {
    expect(() => checkRequestedValidity(now, undefined, new Date(now.getTime() + 91 * DAY).toISOString(), policy)).toThrow(
      /maximum of 90 days/,
    );
    expect(() => checkRequestedValidity(now, undefined, new Date(now.getTime() - DAY).toISOString(), policy)).toThrow(
      /must be after/,
    );
    expect(() => checkRequestedValidity(now, undefined, 'tomorrow', policy)).toThrow(/RFC 3339/);
  });
});
