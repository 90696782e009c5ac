import { ConfigError } from '../config/config.js';
import { OffsetClock, systemClock, type Clock } from '../core/clock.js';

/**
 * Tests only, never production (docs/architecture.md#time): `certmint serve` and every command run
 * on a clock that starts at this RFC 3339 time and advances with real time, so an end-to-end test
 * can put a running server past a renewal window, a CRL's nextUpdate or an intermediate's expiry
 * (Boulder's FAKECLOCK). Not a config key on purpose: no config file can switch it on.
 */
export const FAKE_CLOCK_ENV = 'CERTMINT_FAKE_CLOCK';

const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The clock the environment asks for: the host's, or an OffsetClock. @throws ConfigError naming the variable. */
export function clockFromEnvironment(env: NodeJS.ProcessEnv, host: Clock = systemClock): Clock {
  const value = env[FAKE_CLOCK_ENV];
  if (value === undefined || value === '') return host;
  const at = RFC_3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new ConfigError(`${FAKE_CLOCK_ENV}=${JSON.stringify(value)} is not an RFC 3339 time (e.g. 2030-01-01T00:00:00Z); unset it to run on the host's clock`);
  return new OffsetClock(at - host.now().getTime());
}

/** How far a fake clock is from the host's, for serve's warning: "3 days 4 h 5 min ahead of". */
export function describeOffset(offsetMs: number): string {
  const abs = Math.abs(offsetMs);
  const days = Math.floor(abs / 86_400_000);
  const hours = Math.floor((abs % 86_400_000) / 3_600_000);
  const minutes = Math.floor((abs % 3_600_000) / 60_000);
  const seconds = Math.round((abs % 60_000) / 1000);
  const parts = [days ? `${days} d` : '', hours ? `${hours} h` : '', minutes ? `${minutes} min` : '', seconds ? `${seconds} s` : ''].filter((p) => p !== '');
  if (parts.length === 0) parts.push('0 s');
  return `${parts.join(' ')} ${offsetMs < 0 ? 'behind' : 'ahead of'}`;
}

let processClockValue: Clock | undefined;

/** The clock of this certmint process (read from the environment once; the same for every caller). */
export function processClock(): Clock {
  return (processClockValue ??= clockFromEnvironment(process.env));
}
