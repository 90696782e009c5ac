import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, type CliResult } from './cli.js';
import { freePort } from './ports.js';

/**
 * `certmint serve` on a fresh data dir, with a port another process holds: `env(port)` names the
 * setting (admin.listen, publication.listen) that is given it. Returns the port and what serve did.
 */
export async function serveOnTakenPort(env: (takenPort: number) => Readonly<Record<string, string>>): Promise<{ port: number; result: CliResult }> {
  const base = await mkdtemp(path.join(tmpdir(), 'certmint-taken-port-'));
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as AddressInfo).port;
    const result = await runCli(['serve'], {
      CERTMINT_DATA_DIR: path.join(base, 'data'),
      CERTMINT_SERVER_LISTEN: `127.0.0.1:${await freePort()}`,
      ...env(port),
    });
    return { port, result };
  } finally {
    await new Promise((resolve) => taken.close(resolve));
    await rm(base, { recursive: true, force: true });
  }
}
