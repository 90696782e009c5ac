import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { accountRecord, certificateRecord } from '../../test/support/ledger-records.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';

// Issue 22: `certs list --profile NAME`, with the list's other filters and outputs, through the
// built CLI on a SQLite ledger seeded through the ledger API. The CLI reads it at the wall-clock
// time; the certificates' times are relative to it.

let dir: string;
const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: dir });
const serialsOf = async (...args: string[]) => {
  const r = await certmint(['certs', 'list', '--json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial);
};

beforeAll(async () => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-certs-profile-'));
  const now = new Date();
  const ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await ledger.createAccount(accountRecord('a1', 't1', now));
  await ledger.createAccount(accountRecord('a2', 't2', now));
  // notBefore a day ago: those ending within hours are past their ARI window (overdue), the 40-day ones are not.
  await ledger.insertCertificate(certificateRecord('0a', ['plain.profile.internal'], 0.25, now)); // no profile: default
  await ledger.insertCertificate({ ...certificateRecord('0b', ['named.profile.internal'], 40, now), profile: 'default' });
  await ledger.insertCertificate({ ...certificateRecord('0c', ['short.profile.internal'], 0.3, now, 'a2'), profile: 'shortlived' });
  await ledger.insertCertificate({ ...certificateRecord('0d', ['client.profile.internal'], 41, now), profile: 'shortlived' });
  // Issued under a profile since removed from the config: still listable by its name.
  await ledger.insertCertificate({ ...certificateRecord('0e', ['gold.profile.internal'], 42, now), profile: 'gold' });
  await ledger.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('certmint certs list --profile', () => {
  it('lists one profile ("default" includes orders that named none), with the other filters', async () => {
    expect(await serialsOf()).toEqual(['0a', '0c', '0b', '0d', '0e']);
    expect(await serialsOf('--profile', 'default')).toEqual(['0a', '0b']);
    expect(await serialsOf('--profile', 'shortlived')).toEqual(['0c', '0d']);
    expect(await serialsOf('--profile', 'mtls')).toEqual([]);
    expect(await serialsOf('--profile', 'shortlived', '--account', 'a1')).toEqual(['0d']);
    expect(await serialsOf('--profile', 'default', '--identifier', '*.profile.internal', '--expiring-within', '7d')).toEqual(['0a']);
    expect(await serialsOf('--profile', 'shortlived', '--overdue')).toEqual(['0c']);
    expect(await serialsOf('--profile', 'default', '--unrenewed-expiring-within', '5d')).toEqual(['0a']);
    expect(await serialsOf('--profile', 'gold')).toEqual(['0e']);
  });

  it('prints the profile in --json and --jsonl, and counts within it when --limit cuts the list', async () => {
    const json = JSON.parse((await certmint(['certs', 'list', '--json'])).stdout) as { serial: string; profile: string }[];
    expect(json.map((c) => [c.serial, c.profile])).toEqual([['0a', 'default'], ['0c', 'shortlived'], ['0b', 'default'], ['0d', 'shortlived'], ['0e', 'gold']]);
    const jsonl = await certmint(['certs', 'list', '--jsonl', '--profile', 'shortlived']);
    expect(jsonl.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { profile: string }).profile)).toEqual(['shortlived', 'shortlived']);
    const cut = await certmint(['certs', 'list', '--profile', 'default', '--limit', '1']);
    expect(cut.stdout).toMatch(/^0a\s.*plain\.profile\.internal$/m);
    expect(cut.stdout.trim().split('\n')).toHaveLength(2);
    expect(cut.stderr).toBe('1 of 2 shown; --limit N or --all\n');
  });

  it('refuses a name neither the config nor the ledger knows, naming the configured profiles', async () => {
    const r = await certmint(['certs', 'list', '--profile', 'shortlive']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('certmint: --profile: there is no profile "shortlive"; the config offers: default, shortlived, mtls');
  });
});
