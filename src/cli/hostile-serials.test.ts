import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { showCommand } from './commands/certs.js';
import { revokeCommand } from './commands/revoke.js';

// Property-based tests (fast-check) of the serials and reasons an operator types at the admin CLI
// (`certmint certs show <serial>`, `certmint revoke <serial> --reason <r>`). The commands run in
// process against a real ledger, thousands of times; a few cases go through the built binary to
// check what main.ts makes of the errors. A refused command is a UsageError, which main prints
// as one line (no stack trace) with exit code 1, and it changes nothing.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);
const DAY = 86_400_000;
const REASONS: Record<string, number> = { unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 };

let t: TestAcmeApp;
/** Certificates in the ledger, by serial (DER content octets, lower-case hex), and whether revoked. */
const pool: { serial: string; revoked: boolean }[] = [];

async function addCertificate(serialHex = '01' + randomBytes(16).toString('hex')): Promise<string> {
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  const now = t.clock.now();
  const identifiers = [{ type: 'dns', value: 'cli.serial-prop.test' }] as const;
  const leaf = await t.ca.issueLeaf({ spki, identifiers: [...identifiers], notBefore: now, notAfter: new Date(now.getTime() + 30 * DAY), serialHex });
  await t.ledger.insertCertificate({
    serial: leaf.serialHex, accountId: undefined, orderId: undefined, der: leaf.der, chainPem: t.ca.chainPem, identifiers: [...identifiers],
    commonName: undefined, keyHash: serialHex, notBefore: leaf.notBefore, notAfter: leaf.notAfter, createdAt: now,
  });
  pool.push({ serial: leaf.serialHex, revoked: false });
  return leaf.serialHex;
}

beforeAll(async () => {
  t = await startTestAcmeApp();
  for (let i = 0; i < 4; i++) await addCertificate();
  // A serial whose DER keeps a 0x00 sign octet, and a short one.
  await addCertificate('00' + 'ff' + randomBytes(8).toString('hex'));
  await addCertificate('7f');
});
afterAll(async () => t?.close());

type Spelling = { text: string; names?: string };

/** How operators paste a serial (openssl's "01:AB:..", upper case) and how they get it wrong. */
const spelling: fc.Arbitrary<Spelling> = fc.oneof(
  fc.tuple(fc.nat(), fc.nat(6)).map(([i, how]): Spelling => {
    const serial = pool[i % pool.length]!.serial;
    const pairs = serial.match(/../g)!;
    switch (how) {
      case 0:
        return { text: serial, names: serial };
      case 1:
        return { text: serial.toUpperCase(), names: serial };
      case 2:
        return { text: pairs.join(':').toUpperCase(), names: serial };
      case 3:
        return { text: pairs.join(':'), names: serial };
      case 4:
        return { text: [...serial].map((c, k) => (k % 3 ? c.toUpperCase() : c)).join(''), names: serial };
      case 5:
        return { text: `00${serial}` }; // a leading zero octet DER does not have
      default: {
        const text = serial.replace(/^0+/, '') || '0'; // leading zeros dropped, as big-integer printers do
        return text === serial ? { text, names: serial } : { text };
      }
    }
  }),
  fc.tuple(fc.nat(), fc.constantFrom('0x', ' ', '-', '\n', ':', 'g', '\u0000', '\u001b[31m', '\u00e9'), fc.nat()).map(([i, junk, at]) => {
    const serial = pool[i % pool.length]!.serial;
    const k = at % (serial.length + 1);
    const text = serial.slice(0, k) + junk + serial.slice(k);
    // Colons are separators wherever they fall.
    return junk === ':' ? { text, names: serial } : { text };
  }),
  fc.stringMatching(/^[0-9a-fA-F:]{0,60}$/).map(freeForm),
  fc.nat({ max: 100_000 }).map((n) => freeForm('0'.repeat(n) + '1')),
  fc.string({ maxLength: 100 }).map(freeForm),
  fc.string({ unit: 'binary', maxLength: 50 }).map(freeForm),
);

/** Any text: it names a certificate when, colons dropped and case folded, it is that serial ("7F" is 7f). */
function freeForm(text: string): Spelling {
  const hex = text.replace(/:/g, '').toLowerCase();
  const match = pool.find((c) => c.serial === hex);
  return match ? { text, names: match.serial } : { text };
}

const reasonInput = fc.oneof(
  fc.constantFrom(...Object.keys(REASONS), ...Object.values(REASONS).map(String)),
  fc.constantFrom('2', '6', '7', '8', '10', '-1', '01', '1.0', ' 1', '1e0', '0x1', 'keycompromise', 'KeyCompromise', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '', '99999999999999999999'),
  fc.string({ maxLength: 20 }),
);

/** RFC 5280 §5.3.1 codes the CLI accepts, by name or as a decimal code. */
function reasonCode(input: string): number | undefined {
  if (Object.hasOwn(REASONS, input)) return REASONS[input];
  return /^\d+$/.test(input) && Object.values(REASONS).includes(Number(input)) ? Number(input) : undefined;
}

/** A refused command: a UsageError (one line in main.ts, exit 1), whose message is one line. */
function expectUsageError(e: unknown, context: string): void {
  expect(e, context).toBeInstanceOf(Error);
  expect((e as Error).name, context).toBe('UsageError');
  expect((e as Error).message, context).not.toMatch(/[\r\n]/);
}

async function ledgerState() {
  const revoked = await t.ledger.listCertificates({ now: t.clock.now(), revoked: true, limit: 100_000 });
  const audit = await t.ledger.listAudit({ action: 'revoke', limit: 100_000 });
  return { revoked: revoked.map((c) => `${c.serial}:${c.revocationReason}`).sort(), audit: audit.length };
}

describe('serials and reasons at the admin CLI', () => {
  it('certs show finds a certificate in any spelling of its serial, and refuses everything else with one line', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(spelling, fc.constantFrom({}, { json: true }, { pem: true }), async ({ text, names }, o) => {
        const context = JSON.stringify(text).slice(0, 200);
        let out: string | undefined;
        try {
          out = await showCommand(t.ledger, text, o);
        } catch (e) {
          expectUsageError(e, context);
        }
        seen.add(names ? 'found' : 'refused');
        if (names === undefined) {
          expect(out, context).toBeUndefined();
          return;
        }
        expect(out, context).toBeDefined();
        if ('pem' in o) expect(out, context).toMatch(/^-----BEGIN CERTIFICATE-----/);
        else if ('json' in o) expect(JSON.parse(out!).serial, context).toBe(names);
        else expect(out, context).toMatch(new RegExp(`^serial\\s+${names}$`, 'm'));
      }),
      { numRuns: RUNS },
    );
    expect([...seen].sort()).toEqual(['found', 'refused']);
  });

  it('revoke revokes exactly the named certificate with exactly the given reason, or refuses with one line and changes nothing', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(spelling, reasonInput, async ({ text, names }, reason) => {
        const context = `${JSON.stringify(text).slice(0, 200)} --reason ${JSON.stringify(reason)}`;
        const code = reasonCode(reason);
        const entry = pool.find((p) => p.serial === names);
        const before = await ledgerState();
        let out: string | undefined;
        try {
          out = await revokeCommand(t.ra, text, reason, 'prop');
        } catch (e) {
          expectUsageError(e, context);
        }
        if (entry && code !== undefined && !entry.revoked) {
          seen.add('revoked');
          expect(out, context).toBe(`revoked ${names} (${Object.keys(REASONS).find((n) => REASONS[n] === code)})\n`);
          expect(await t.ledger.getCertificate(entry.serial), context).toMatchObject({ status: 'revoked', revocationReason: code });
          const audit = (await t.ledger.auditTrail(entry.serial)).filter((a) => a.action === 'revoke');
          expect(audit.map((a) => a.actor), context).toEqual(['operator:prop']);
          entry.revoked = true;
          await addCertificate(); // keep unrevoked certificates to name
          return;
        }
        seen.add(entry?.revoked && code !== undefined ? 'already revoked' : 'refused');
        expect(out, context).toBeUndefined();
        expect(await ledgerState(), context).toEqual(before);
      }),
      { numRuns: RUNS },
    );
    expect([...seen].sort()).toEqual(['already revoked', 'refused', 'revoked']);
  });

  it('the built CLI prints a refused serial as one line with exit code 1, and revokes nothing', async () => {
    requireBuiltCli();
    const env = { CERTMINT_DATA_DIR: t.dir };
    const before = await ledgerState();
    const unrevoked = pool.find((p) => !p.revoked)!.serial;
    for (const args of [
      ['certs', 'show', 'ab\ncd'],
      ['certs', 'show', `00${unrevoked}`],
      ['revoke', `${unrevoked}\n`, '--reason', 'keyCompromise'],
      ['revoke', unrevoked, '--reason', 'toString\n'],
    ]) {
      const r = await runCli(args, env);
      const context = `${JSON.stringify(args).slice(0, 200)} → ${r.code} ${r.stderr.slice(0, 300)}`;
      expect(r.code, context).toBe(1);
      expect(r.stderr.trimEnd().split('\n'), context).toHaveLength(1);
      expect(r.stderr, context).toMatch(/^certmint: /);
      expect(r.stderr, context).not.toMatch(/\n\s+at /);
    }
    expect(await ledgerState()).toEqual(before);
    // The same serial, as openssl prints it, is found.
    const shown = await runCli(['certs', 'show', unrevoked.match(/../g)!.join(':').toUpperCase(), '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).serial).toBe(unrevoked);
  });

  it('regression: a serial or reason with a newline is quoted on one line', async () => {
    // Found by the properties above: the message echoed the input as typed, newline included.
    const messages: string[] = [];
    for (const run of [() => showCommand(t.ledger, '\n', {}), () => revokeCommand(t.ra, '\n', '2', 'prop'), () => revokeCommand(t.ra, pool[0]!.serial, '1\n', 'prop')]) {
      await run().then(
        () => expect.fail('refused input was accepted'),
        (e: Error) => messages.push(e.message),
      );
    }
    expect(messages).toEqual([
      '"\\n" is not a certificate serial (hex digits, optionally separated by colons)',
      '"\\n" is not a certificate serial (hex digits, optionally separated by colons)',
      expect.stringMatching(/^--reason "1\\n" is not accepted; use one of unspecified, keyCompromise/),
    ]);
  });
});
