import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';

/**
 * The console's session cookie: HttpOnly, Secure, SameSite=Strict, scoped to the admin paths'
 * base. Sessions themselves live in the ledger (ra/admin-sessions.ts); what is here is HTTP.
 */
export const SESSION_COOKIE = 'certmint_console';
/** Where a state-changing request made with the session cookie carries its CSRF token. */
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

/** Whether the CSRF token presented is the session's (constant-time). */
export function csrfMatches(csrf: string, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length !== csrf.length) return false;
  return timingSafeEqual(Buffer.from(presented), Buffer.from(csrf));
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface ThrottleLimits {
  /** Failed sign-ins one client address may make per window (default 5). */
  readonly perAddress: number;
  /** Failed sign-ins from all addresses together per window (default 100). */
  readonly total: number;
  readonly windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perAddress: 5, total: 100, windowMs: 5 * 60_000 };

/**
 * Sign-in attempts, limited by failures in a fixed window per client address and in total. An
 * admin token has 256 random bits, so guessing is hopeless anyway; the limit keeps a scripted
 * guesser from costing the ledger a lookup per try and makes one show in the logs.
 */
export class LoginThrottle {
  private window = 0;
  private readonly failures = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly clock: Clock,
    readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
  ) {}

  private roll(): number {
    const now = this.clock.now().getTime();
    const window = Math.floor(now / this.limits.windowMs);
    if (window !== this.window) {
      this.window = window;
      this.failures.clear();
      this.total = 0;
    }
    return now;
  }

  /** Seconds until this address may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    const now = this.roll();
    if ((this.failures.get(address) ?? 0) < this.limits.perAddress && this.total < this.limits.total) return 0;
    return Math.max(1, Math.ceil(((this.window + 1) * this.limits.windowMs - now) / 1000));
  }

  fail(address: string): void {
    this.roll();
    this.failures.set(address, (this.failures.get(address) ?? 0) + 1);
    this.total++;
  }
}
