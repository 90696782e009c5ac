import { describe, expect, it } from 'vitest';
import { ValidationQueue } from './validation-queue.js';

/** A validation the test finishes by hand, recording when it started. */
function manual(log: string[], name: string): { task: () => Promise<void>; finish: () => void } {
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    task: () => {
      log.push(name);
      return gate;
    },
    finish: () => finish(),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ValidationQueue', () => {
  it('starts an account\'s validations up to its bound; the rest wait and start, in order, as slots free', async () => {
    const queue = new ValidationQueue({ maxConcurrent: 10, maxConcurrentPerAccount: 2 });
    const log: string[] = [];
    const v = ['a1', 'a2', 'a3', 'a4'].map((n) => manual(log, n));
    const submitted = v.map((x) => queue.submit('A', x.task));
    expect(submitted.map((s) => s.started)).toEqual([true, true, false, false]);
    expect(log).toEqual(['a1', 'a2']);
    expect([queue.runningCount, queue.waitingCount]).toEqual([2, 2]);
    v[1]!.finish();
    await settle();
    expect(log).toEqual(['a1', 'a2', 'a3']);
    for (const x of v) x.finish();
    await Promise.all(submitted.map((s) => s.done));
    expect(log).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect([queue.runningCount, queue.waitingCount]).toEqual([0, 0]);
  });

  it('another account starts at once while one account waits at its bound', () => {
    const queue = new ValidationQueue({ maxConcurrent: 10, maxConcurrentPerAccount: 2 });
    const log: string[] = [];
    for (let i = 0; i < 5; i++) queue.submit('hostile', manual(log, `h${i}`).task);
    expect(queue.submit('honest', manual(log, 'o1').task).started).toBe(true);
    expect(log).toEqual(['h0', 'h1', 'o1']);
  });

  it('at the total bound, free slots go to waiting accounts in turn, not to the longest queue', async () => {
    const queue = new ValidationQueue({ maxConcurrent: 2, maxConcurrentPerAccount: 5 });
    const log: string[] = [];
    const running = [manual(log, 'a1'), manual(log, 'a2')];
    for (const r of running) queue.submit('A', r.task);
    const waiting = ['a3', 'a4', 'a5'].map((n) => manual(log, n));
    for (const w of waiting) expect(queue.submit('A', w.task).started).toBe(false);
    const b = manual(log, 'b1');
    expect(queue.submit('B', b.task).started).toBe(false);
    running[0]!.finish();
    await settle();
    // A's a3 came first and gets the slot; B is next in line, before A's a4.
    expect(log).toEqual(['a1', 'a2', 'a3']);
    running[1]!.finish();
    await settle();
    expect(log).toEqual(['a1', 'a2', 'a3', 'b1']);
  });

  it('a validation that throws or rejects frees its slot', async () => {
    const queue = new ValidationQueue({ maxConcurrent: 1, maxConcurrentPerAccount: 1 });
    const failing = queue.submit('A', () => Promise.reject(new Error('ledger gone')));
    const throwing = queue.submit('A', () => {
      throw new Error('bug');
    });
    const after = queue.submit('A', () => Promise.resolve());
    await expect(failing.done).rejects.toThrow('ledger gone');
    await expect(throwing.done).rejects.toThrow('bug');
    await after.done;
    expect([queue.runningCount, queue.waitingCount]).toEqual([0, 0]);
  });

  it('stop() starts nothing more: what waits is settled without running, what runs finishes', async () => {
    const queue = new ValidationQueue({ maxConcurrent: 1, maxConcurrentPerAccount: 1 });
    const log: string[] = [];
    const first = manual(log, 'a1');
    const running = queue.submit('A', first.task);
    const waiting = queue.submit('A', manual(log, 'a2').task);
    queue.stop();
    await waiting.done;
    expect(queue.submit('B', manual(log, 'b1').task).started).toBe(false);
    first.finish();
    await running.done;
    await settle();
    expect(log).toEqual(['a1']);
  });
});
