import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config.js';
import { ManualClock, OffsetClock } from '../core/clock.js';
import { clockFromEnvironment, describeOffset } from './fake-clock.js';

describe('CERTMINT_FAKE_CLOCK', () => {
  const host = new ManualClock(new Date('2026-12-06T12:00:00Z'));

  it('unset or empty: the host clock itself', () => {
    expect(clockFromEnvironment({}, host)).toBe(host);
    expect(clockFromEnvironment({ CERTMINT_FAKE_CLOCK: '' }, host)).toBe(host);
  });

  it('an RFC 3339 time: a clock offset from the host by the difference', () => {
    const clock = clockFromEnvironment({ CERTMINT_FAKE_CLOCK: '2027-01-10T14:30:00+02:00' }, host);
    expect(clock).toBeInstanceOf(OffsetClock);
    expect((clock as OffsetClock).offsetMs).toBe(Date.parse('2027-01-10T12:30:00Z') - Date.parse('2026-12-06T12:00:00Z'));
  });

  it('an OffsetClock starts where it was set and advances with real time', () => {
    const start = new Date('2031-05-01T00:00:00Z');
    const clock = OffsetClock.startingAt(start);
    const first = clock.now().getTime();
    expect(first - start.getTime()).toBeGreaterThanOrEqual(0);
    expect(first - start.getTime()).toBeLessThan(60_000);
    expect(clock.now().getTime()).toBeGreaterThanOrEqual(first);
  });

  it.each(['tomorrow', '2027-01-10', '2027-01-10T14:30:00', '1700000000', '2027-13-40T99:00:00Z'])('refuses %j naming the variable', (value) => {
    expect(() => clockFromEnvironment({ CERTMINT_FAKE_CLOCK: value }, host)).toThrow(ConfigError);
    expect(() => clockFromEnvironment({ CERTMINT_FAKE_CLOCK: value }, host)).toThrow(/^CERTMINT_FAKE_CLOCK=".*" is not an RFC 3339 time/);
  });

  it('says how far from the host clock it is', () => {
    expect(describeOffset(33 * 86_400_000 + 2 * 3_600_000 + 5_000)).toBe('33 d 2 h 5 s ahead of');
    expect(describeOffset(-90_000)).toBe('1 min 30 s behind');
    expect(describeOffset(0)).toBe('0 s ahead of');
  });
});
