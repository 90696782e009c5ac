import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './ports.js';

describe('freePort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("stays below the kernel's ephemeral ports, where outgoing connections cannot take it", async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(Math.min(low!, 32_000));
    }
  });

  it('hands a port out once: a server still starting does not share it with the next caller', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('skips a port something listens on', async () => {
    const first = await freePort();
    const holder = createServer();
    // The next port in this worker's sequence, taken before freePort gets to it.
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.listen(first + 1, '127.0.0.1', resolve);
    });
    try {
      const second = await freePort();
      expect(second).not.toBe(first + 1);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
