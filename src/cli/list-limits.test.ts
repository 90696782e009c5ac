import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTMINT_CLI, requireBuiltCli, runCli } from '../../test/support/cli.js';
import { accountRecord, certificateRecord } from '../../test/support/ledger-records.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import { createPostgresPool } from '../ledger/postgres/connect.js';
import { PostgresLedger } from '../ledger/postgres/ledger.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';

// Issue 21, a rough edge: `certs list`, `accounts list` and `audit` stopped at --limit (1000)
// without a word, and a user with 1,600 certificates saw 1,000 and took that for all. Now a list
// cut by --limit says so on stderr, --all reads every row (a page of 1000 at a time), and --jsonl
// prints one object per line. Through the built CLI on a ledger of 1,600 certificates, on SQLite
// and on PostgreSQL.

const CERTS = 1600;
const now = new Date();
/** Ten certificates share each expiry, so the page boundary at 1000 falls among equal notAfters. */
const serialOf = (i: number) => i.toString(16).padStart(4, '0');
const daysOf = (i: number) => (i % 160) - 20;

/** The inventory in list order: soonest expiry first, then serial. */
const expectedOrder = Array.from({ length: CERTS }, (_, i) => i)
  .sort((a, b) => daysOf(a) - daysOf(b) || serialOf(a).localeCompare(serialOf(b)))
  .map(serialOf);
const expiredCount = Array.from({ length: CERTS }, (_, i) => daysOf(i)).filter((d) => d <= 0).length;

/** 1,600 certificates of account a1, and accounts a1–a3, through the ledger API (not ACME: seconds, not minutes). */
async function seed(ledger: CertificateLedger): Promise<void> {
  for (const id of ['a1', 'a2', 'a3']) await ledger.createAccount(accountRecord(id, `t-${id}`, now));
  for (let i = 0; i < CERTS; i++) await ledger.insertCertificate(certificateRecord(serialOf(i), [`host-${i}.list.internal`], daysOf(i), now));
}

interface Backend {
  readonly name: string;
  readonly available: () => boolean;
  /** Seeds a new ledger; returns the environment the CLI reads it with. */
  readonly start: (work: string) => Promise<Record<string, string>>;
  readonly stop: () => Promise<void>;
}

let cluster: PostgresCluster | undefined;
const backends: Backend[] = [
  {
    name: 'sqlite',
    available: () => true,
    start: async (work) => {
      const ledger = new SqliteLedger({ file: path.join(work, 'ledger.sqlite3') });
      await seed(ledger);
      await ledger.close();
      return { CERTMINT_DATA_DIR: work };
    },
    stop: async () => undefined,
  },
  {
    name: 'postgres',
    available: postgresAvailable,
    start: async (work) => {
      cluster = await startPostgres();
      const url = await cluster.createDatabase();
      const ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 2 }) });
      await seed(ledger);
      await ledger.close();
      return { CERTMINT_DATA_DIR: work, CERTMINT_LEDGER_URL: url };
    },
    stop: async () => cluster?.stop(),
  },
];

for (const backend of backends) {
  // Each test runs the CLI (a node process) up to eight times: generous against a loaded machine.
  describe.skipIf(!backend.available())(`lists cut by --limit say so; --all and --jsonl [${backend.name}]`, { timeout: 120_000 }, () => {
    let work: string;
    let env: Record<string, string>;
    beforeAll(async () => {
      requireBuiltCli();
      work = mkdtempSync(path.join(tmpdir(), 'certmint-list-limits-'));
      env = await backend.start(work);
    }, 180_000);
    afterAll(async () => {
      await backend.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    }, 60_000);

    const certmint = async (...args: string[]) => {
      const r = await runCli(args, env);
      expect(r.code, r.stderr).toBe(0);
      return r;
    };
    const tableRows = (stdout: string) => stdout.trimEnd().split('\n').slice(1);
    const jsonLines = (stdout: string) => stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

    it('certs list: 1000 rows and "1000 of 1600 shown" on stderr; none when the limit does not cut', async () => {
      const cut = await certmint('certs', 'list');
      expect(cut.stderr).toBe(`1000 of ${CERTS} shown; --limit N or --all\n`);
      expect(tableRows(cut.stdout).map((l) => l.split(/\s+/)[0])).toEqual(expectedOrder.slice(0, 1000));

      const whole = await certmint('certs', 'list', '--limit', String(CERTS));
      expect(whole.stderr).toBe('');
      expect(tableRows(whole.stdout)).toHaveLength(CERTS);
      // The count takes the list's filters.
      const expired = await certmint('certs', 'list', '--expired', '--limit', '100', '--json');
      expect(expired.stderr).toBe(`100 of ${expiredCount} shown; --limit N or --all\n`);
      expect(JSON.parse(expired.stdout)).toHaveLength(100);
      expect((await certmint('certs', 'list', '--expired', '--limit', String(expiredCount))).stderr).toBe('');
    });

    it('certs list --all: every certificate in order across pages, no notice; --json stays one array', async () => {
      const all = await certmint('certs', 'list', '--all', '--json');
      expect(all.stderr).toBe('');
      const rows = JSON.parse(all.stdout) as { serial: string }[];
      expect(rows.map((r) => r.serial)).toEqual(expectedOrder);
      // The same text as JSON.stringify(array, null, 2), though it was printed a page at a time.
      expect(all.stdout).toBe(`${JSON.stringify(rows, null, 2)}\n`);
      const table = await certmint('certs', 'list', '--all');
      expect(tableRows(table.stdout).map((l) => l.split(/\s+/)[0])).toEqual(expectedOrder);
      // Latest first: the same rows the other way round, paged backwards on the same index.
      const latest = await certmint('certs', 'list', '--all', '--order', 'desc', '--json');
      expect((JSON.parse(latest.stdout) as { serial: string }[]).map((r) => r.serial)).toEqual([...expectedOrder].reverse());
      const bad = await runCli(['certs', 'list', '--order', 'newest'], env);
      expect([bad.code, bad.stderr]).toEqual([1, 'certmint: --order must be asc (soonest expiry first) or desc (latest first), not "newest"\n']);
    });

    it('certs list --jsonl: one object per line, the --json objects; with --all every one', async () => {
      const all = await certmint('certs', 'list', '--all', '--jsonl');
      expect(all.stderr).toBe('');
      const lines = jsonLines(all.stdout);
      expect(lines).toHaveLength(CERTS);
      expect(lines).toEqual(JSON.parse((await certmint('certs', 'list', '--all', '--json')).stdout));
      const cut = await certmint('certs', 'list', '--jsonl');
      expect(jsonLines(cut.stdout)).toHaveLength(1000);
      expect(cut.stderr).toBe(`1000 of ${CERTS} shown; --limit N or --all\n`);
      const both = await runCli(['certs', 'list', '--json', '--jsonl'], env);
      expect(both.code).toBe(1);
      expect(both.stderr).toMatch(/--json.*cannot be used with.*--jsonl/);
    });

    it('certs list --all --jsonl | head -1: the reader closing the pipe ends the command quietly', async () => {
      const child = spawn(process.execPath, [CERTMINT_CLI, 'certs', 'list', '--all', '--jsonl'], { env: { ...process.env, ...env } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const first = await new Promise<string>((resolve) => {
        let text = '';
        child.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('\n')) {
            child.stdout.destroy();
            resolve(text.slice(0, text.indexOf('\n')));
          }
        });
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(JSON.parse(first)).toMatchObject({ serial: expectedOrder[0] });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    });

    it('accounts list: the same notice, --all and --jsonl', async () => {
      const accounts = await certmint('accounts', 'list', '--limit', '2');
      expect(accounts.stderr).toBe('2 of 3 shown; --limit N or --all\n');
      expect(tableRows(accounts.stdout)).toHaveLength(2);
      expect(jsonLines((await certmint('accounts', 'list', '--jsonl')).stdout).map((a) => a.id)).toEqual(['a1', 'a2', 'a3']);
      expect((await certmint('accounts', 'list', '--all')).stderr).toBe('');
    });

    it('audit: the same notice, --all and --jsonl', async () => {
      // An entry per account created and per certificate issued.
      const total = CERTS + 3;
      const audit = await certmint('audit');
      expect(audit.stderr).toBe(`1000 of ${total} shown; --limit N or --all\n`);
      expect(audit.stdout.trimEnd().split('\n')).toHaveLength(1000);
      const every = jsonLines((await certmint('audit', '--all', '--jsonl')).stdout);
      expect(every).toHaveLength(total);
      expect(every.filter((e) => e.action === 'issue').map((e) => e.subject).sort()).toEqual([...expectedOrder].sort());
      const issued = await certmint('audit', '--action', 'issue', '--limit', '1500', '--json');
      expect(issued.stderr).toBe(`1500 of ${CERTS} shown; --limit N or --all\n`);
    });
  });
}
