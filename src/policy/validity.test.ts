import { describe, expect, it } from 'vitest';
import { BACKDATE_MS, checkRequestedValidity, leafValidity } from './validity.js';

const DAY = 86_400_000;
const policy = { defaultLifetimeMs: 45 * DAY, maxLifetimeMs: 90 * DAY };
const now = new Date('2026-06-01T00:00:00Z');

describe('validity policy', () => {
  it('defaults to 45 days from a notBefore backdated one minute: the period is exactly the lifetime', () => {
    const v = leafValidity(now, { notBefore: undefined, notAfter: undefined }, policy);
    expect(v.notBefore.getTime()).toBe(now.getTime() - BACKDATE_MS);
    expect(v.notAfter.getTime() - v.notBefore.getTime()).toBe(45 * DAY);
  });

  it('backdates less when a requested notAfter at the maximum would make the period longer than it', () => {
    const notAfter = new Date(now.getTime() + 90 * DAY).toISOString();
    const v = leafValidity(now, checkRequestedValidity(now, undefined, notAfter, policy), policy);
    expect(v.notAfter.getTime() - v.notBefore.getTime()).toBe(90 * DAY);
    expect(v.notBefore.getTime()).toBe(now.getTime());
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
