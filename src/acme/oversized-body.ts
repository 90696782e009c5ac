import type { IncomingMessage } from 'node:http';

/**
 * How much of an oversized body is read and thrown away before its 413 is sent. Clients that
 * write the whole body before reading (Python's requests, for one) saw a reset instead of the
 * problem when the server closed a connection it had not read to the end: the kernel answers
 * unread bytes with RST, which discards the response still in flight.
 *
 * Draining costs the server bandwidth an attacker chooses, so it is bounded per request by bytes
 * and by time, and it happens at most once per connection (the 413 closes it). The connection
 * keeps its slot of server.maxConnections (and of maxConnectionsPerAddress) while it drains.
 * Beyond either bound the 413 is sent and the connection closed unread, as before.
 */
export const OVERSIZED_BODY_DRAIN = {
  /** Bytes read past the point where the body was found too large (more than the 4 MB). */
  bytes: 8 * 1024 * 1024,
  /** From the moment the body was found too large. */
  ms: 2_000,
} as const;

/**
 * Reads and discards the rest of `raw`'s body: 'drained' once it has ended, 'bounded' when the
 * bytes or time ran out first or the connection went away.
 */
export function drainOversizedBody(raw: IncomingMessage, bound: { readonly bytes: number; readonly ms: number } = OVERSIZED_BODY_DRAIN): Promise<'drained' | 'bounded'> {
  if (raw.complete) return Promise.resolve('drained');
  if (raw.destroyed) return Promise.resolve('bounded');
  return new Promise((resolve) => {
    let bytes = 0;
    const finish = (outcome: 'drained' | 'bounded') => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('close', onClose);
      // Beyond the bound: stop reading, so the close that follows the 413 costs nothing more.
      if (outcome === 'bounded') raw.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bound.bytes) finish('bounded');
    };
    const onEnd = () => finish('drained');
    const onClose = () => finish(raw.complete ? 'drained' : 'bounded');
    const timer = setTimeout(() => finish('bounded'), bound.ms);
    raw.on('data', onData);
    raw.once('end', onEnd);
    raw.once('close', onClose);
    raw.resume();
  });
}
