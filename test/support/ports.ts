import { createServer } from 'node:net';

/**
 * Ports for servers the tests start, outside Linux's default ephemeral range
 * (ip_local_port_range 32768-60999). A port the kernel picks for `listen(0)` sits in that range,
 * where any outgoing connection made before the caller binds it (a database pool, an HTTP client,
 * a validation) can take it: seen as "Address already in use" in CI (haproxy, seconds later).
 * Below the range only listeners compete, and each vitest worker process takes its ports from its
 * own slice (VITEST_POOL_ID), one after another, so two test files running side by side never
 * draw the same port, and one file's ports are not handed out again until its slice wraps.
 */
const RANGE = { from: 20_000, to: 32_000 } as const;
const SLICE = 1_000;
const SLICES = (RANGE.to - RANGE.from) / SLICE;

function sliceStart(): number {
  const pool = Number(process.env.VITEST_POOL_ID ?? 0);
  // Outside vitest (a script): a slice from the pid, still away from the kernel's range.
  const index = Number.isInteger(pool) && pool > 0 ? (pool - 1) % SLICES : process.pid % SLICES;
  return RANGE.from + index * SLICE;
}

const start = sliceStart();
// From a random point of the slice: a file that runs next in the same worker does not start on
// the ports the previous one may still hold in TIME_WAIT.
let next = Math.floor(Math.random() * SLICE);

/**
 * A TCP port on 127.0.0.1 that nothing listens on now and that no other test file is handed:
 * for servers a test spawns (the port goes into their config before they bind) and for "nothing
 * listens here" addresses. A process outside the tests could still take it; callers that spawn
 * servers retry on "address in use".
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < SLICE; attempt++) {
    const port = start + (next++ % SLICE);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${start} and ${start + SLICE - 1}`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
