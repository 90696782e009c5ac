/** Time comes from here so tests can move it instead of sleeping (docs/architecture.md#time). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(date: Date): void {
    this.current = date.getTime();
  }
}

/**
 * The host's time shifted by a fixed offset: it advances with real time from wherever it was set.
 * What `CERTMINT_FAKE_CLOCK` (cli/fake-clock.ts, tests only) runs serve and the CLI on.
 */
export class OffsetClock implements Clock {
  constructor(readonly offsetMs: number) {}
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** A clock that reads `start` now. */
  static startingAt(start: Date): OffsetClock {
    return new OffsetClock(start.getTime() - Date.now());
  }
}
