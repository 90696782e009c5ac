import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import type { NewCertificate } from '../records.js';
import { createPostgresPool } from './connect.js';
import { PostgresLedger } from './ledger.js';

// An instance on PostgreSQL looks an intermediate chain up in certificate_chains once, not on
// every issuance (certificates.ts committedChains): one round trip fewer per certificate. Counted
// on the real connections: every statement named ledger.certs.chainId that reaches PostgreSQL.
const now = new Date('2026-03-01T00:00:00Z');
const CHAIN = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const ROTATED = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n';

function issued(serial: string, chainPem: string): NewCertificate {
  return { ...certificateRecord(serial, [`${serial}.example`], 30, now), chainPem };
}

/** A ledger on `url` whose connections count the chain lookups they send. */
async function countingLedger(url: string): Promise<{ ledger: PostgresLedger; lookups: () => number }> {
  let lookups = 0;
  const connection = createPostgresPool({ url, passwordFile: undefined, poolSize: 2 });
  connection.pool.on('connect', (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if ((args[0] as { name?: string } | undefined)?.name === 'ledger.certs.chainId') lookups += 1;
      return query(...args);
    };
  });
  return { ledger: await PostgresLedger.open({ connection }), lookups: () => lookups };
}

describe.skipIf(!postgresAvailable())('chain lookups on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let url: string;
  const open: PostgresLedger[] = [];

  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase();
  }, 60_000);
  afterAll(async () => {
    for (const l of open) await l.close();
    await cluster?.stop();
  });

  it('reads a chain once it is committed, then no more; a second instance and a rotated chain each once too', async () => {
    const a = await countingLedger(url);
    open.push(a.ledger);
    await a.ledger.createAccount(accountRecord('a1', 't1', now));
    // The first certificate inserts the chain (its id is not kept: that transaction could have rolled
    // back); the second finds it committed and keeps its id; the rest send no lookup.
    for (const serial of ['01', '02', '03', '04', '05']) await a.ledger.insertCertificate(issued(serial, CHAIN));
    expect(a.lookups()).toBe(2);
    await a.ledger.insertCertificate(issued('06', ROTATED));
    await a.ledger.insertCertificate(issued('07', ROTATED));
    await a.ledger.insertCertificate(issued('08', CHAIN));
    expect(a.lookups()).toBe(4);

    const b = await countingLedger(url);
    open.push(b.ledger);
    for (const serial of ['11', '12', '13']) await b.ledger.insertCertificate(issued(serial, CHAIN));
    expect(b.lookups()).toBe(1);
    for (const serial of ['01', '05', '08', '11', '13']) expect((await b.ledger.getCertificate(serial))?.chainPem, serial).toBe(CHAIN);
    expect((await a.ledger.getCertificate('07'))?.chainPem).toBe(ROTATED);
  });
});
