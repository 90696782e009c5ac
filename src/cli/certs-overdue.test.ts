import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';

const DAY = 86_400_000;

// Lineage and renewal-overdue through the built CLI, on a data dir the app issued into with its
// clock moved back: the CLI reads the ledger at the wall-clock time, days after those issuances.
let t: TestAcmeApp;
const serials: Record<string, string> = {};
const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: t.dir });
const json = async (...args: string[]) => {
  const r = await certmint(['certs', 'list', '--json', ...args]);
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial);
};

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
  const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
  const now = t.clock.now().getTime();
  // Six-day certificates issued five days ago: their ARI windows ended 0.7 days ago.
  t.clock.set(new Date(now - 5 * DAY));
  serials.stuck = (await issueCertificate(t, client, ['stuck.internal'], { notAfter: new Date(now + DAY) })).serial;
  serials.first = (await issueCertificate(t, client, ['renewed.internal'], { notAfter: new Date(now + DAY) })).serial;
  serials.late = (await issueCertificate(t, client, ['late.internal'], { notAfter: new Date(now + 10 * DAY) })).serial;
  // renewed.internal was renewed yesterday: the first one is superseded, the renewal not yet due.
  t.clock.set(new Date(now - DAY));
  serials.renewal = (await issueCertificate(t, client, ['renewed.internal'], { notAfter: new Date(now + 5 * DAY) })).serial;
  t.clock.set(new Date(now));
});
afterAll(async () => t?.close());

describe('certmint certs list --overdue / --unrenewed-expiring-within', () => {
  it('lists what is past its window and not replaced, with the list\'s filters and outputs', async () => {
    expect(await json('--overdue')).toEqual([serials.stuck]);
    expect(await json('--unrenewed-expiring-within', '3d')).toEqual([serials.stuck]);
    expect(await json('--unrenewed-expiring-within', '12h')).toEqual([]);
    expect(await json('--overdue', '--identifier', 'renewed.internal')).toEqual([]);
    expect(await json('--overdue', '--identifier', '*.internal')).toEqual([serials.stuck]);
    expect(await json('--overdue', '--account', 'nobody')).toEqual([]);
    const table = await certmint(['certs', 'list', '--overdue']);
    expect(table.stdout.trim().split('\n')).toHaveLength(2);
    expect(table.stdout).toMatch(new RegExp(`^${serials.stuck}\\s.*valid\\s+stuck\\.internal$`, 'm'));
    const jsonl = await certmint(['certs', 'list', '--overdue', '--jsonl']);
    expect(jsonl.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { serial: string; replacedBy: null }).replacedBy)).toEqual([null]);
  });

  it('follows certs renew-early, and says when --limit cut the list', async () => {
    const marked = await certmint(['certs', 'renew-early', serials.late!]);
    expect(marked.code, marked.stderr).toBe(0);
    expect(await json('--overdue')).toEqual([serials.stuck, serials.late]);
    const cut = await certmint(['certs', 'list', '--overdue', '--json', '--limit', '1']);
    expect((JSON.parse(cut.stdout) as { serial: string }[]).map((c) => c.serial)).toEqual([serials.stuck]);
    expect(cut.stderr).toBe('1 of 2 shown; --limit N or --all\n');
    expect(await json('--overdue', '--all')).toEqual([serials.stuck, serials.late]);
  });

  it('refuses a bad duration with one line', async () => {
    const r = await certmint(['certs', 'list', '--unrenewed-expiring-within', 'soon']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^certmint: --unrenewed-expiring-within: invalid duration "soon"/);
  });
});

describe('certmint certs show: lineage both ways', () => {
  it('--json has replaces and replacedBy (serials, or null); the text names them', async () => {
    const show = async (serial: string) => JSON.parse((await certmint(['certs', 'show', serial, '--json'])).stdout) as Record<string, unknown>;
    expect(await show(serials.first!)).toMatchObject({ replaces: null, replacedBy: serials.renewal });
    expect(await show(serials.renewal!)).toMatchObject({ replaces: serials.first, replacedBy: null });
    expect(await show(serials.stuck!)).toMatchObject({ replaces: null, replacedBy: null });
    const text = (await certmint(['certs', 'show', serials.renewal!])).stdout;
    expect(text).toMatch(new RegExp(`^replaces\\s+${serials.first}$`, 'm'));
    expect(text).toMatch(/^replacedBy\s+none \(not superseded\)$/m);
    expect(text).toMatch(/^renewalDueAt\s+\d{4}-\d\d-\d\dT/m);
  });
});
