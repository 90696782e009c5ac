import { describe, expect, it } from 'vitest';
import { restartDelay } from './serve-workers.js';

describe('replacing a worker that died (server.workers)', () => {
  it('waits 100 ms, doubling to 10 s while workers keep dying young, and 100 ms again after one that served', () => {
    const waits: number[] = [];
    let pending = 100;
    for (let i = 0; i < 10; i++) {
      const { delay, next } = restartDelay(pending, false);
      waits.push(delay);
      pending = next;
    }
    expect(waits).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    const healthy = restartDelay(pending, true);
    expect(healthy.delay).toBe(100);
    expect(restartDelay(healthy.next, false).delay).toBe(200);
  });
});
