import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';

// `certmint accounts persist-record` (the built binary) on a live app's data dir: the record it
// prints is the one the app's dns-persist-01 validation accepts.
let t: TestAcmeApp;
let client: InjectAcmeClient;
let gone: InjectAcmeClient;
const ISSUERS = 'ca.persist-cli.test,alt.persist-cli.test';
const idOf = (c: InjectAcmeClient) => c.accountUrl!.split('/').pop()!;
const certmint = (args: string[], issuers = ISSUERS) =>
  runCli(args, { CERTMINT_DATA_DIR: t.dir, CERTMINT_SERVER_BASE_URL: t.baseUrl, CERTMINT_VALIDATION_DNS_PERSIST_ISSUER_DOMAIN_NAMES: issuers });

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp({ env: { CERTMINT_VALIDATION_DNS_PERSIST_ISSUER_DOMAIN_NAMES: ISSUERS } });
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
  gone = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await gone.register();
  await gone.post(gone.accountUrl!, { status: 'deactivated' });
});
afterAll(async () => t?.close());

/** The TXT value of a printed zone-file line: its quoted strings joined, as a resolver joins them. */
function txtValue(zoneLine: string): string {
  return [...zoneLine.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string).join('');
}

async function validates(name: string, wildcard: boolean): Promise<string> {
  const identifier = { type: 'dns', value: wildcard ? `*.${name}` : name };
  const order = (await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [identifier] })).json();
  const authz = (await client.post(order.authorizations[0], '')).json();
  const challenge = authz.challenges.find((c: { type: string }) => c.type === 'dns-persist-01');
  return (await client.post(challenge.url, {})).json().status;
}

describe('certmint accounts persist-record', () => {
  it('prints the zone-file line with the first issuer name and the account URL, which validates', async () => {
    const r = await certmint(['accounts', 'persist-record', idOf(client), 'Web.Persist-CLI.test']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      `; dns-persist-01 (draft-ietf-acme-dns-persist-01): account ${idOf(client)} may get certificates for web.persist-cli.test`,
      '; until this record is removed; it stands for the account key, so protect that key.',
      `_validation-persist.web.persist-cli.test. IN TXT "ca.persist-cli.test; accounturi=${client.accountUrl}"`,
    ]);
    await t.dns.addTxt('_validation-persist.web.persist-cli.test', txtValue(lines[2]!));
    expect(await validates('web.persist-cli.test', false)).toBe('valid');
  });

  it('adds policy=wildcard for *.name or --wildcard, takes the account URL, and prints JSON', async () => {
    const star = await certmint(['accounts', 'persist-record', client.accountUrl!, '*.wild.persist-cli.test']);
    const flag = await certmint(['accounts', 'persist-record', idOf(client), 'wild.persist-cli.test', '--wildcard']);
    expect(star.stdout).toBe(flag.stdout);
    const line = star.stdout.trimEnd().split('\n').pop()!;
    expect(line).toBe(`_validation-persist.wild.persist-cli.test. IN TXT "ca.persist-cli.test; accounturi=${client.accountUrl}; policy=wildcard"`);
    await t.dns.addTxt('_validation-persist.wild.persist-cli.test', txtValue(line));
    expect(await validates('wild.persist-cli.test', true)).toBe('valid');
    expect(await validates('deep.under.wild.persist-cli.test', false)).toBe('valid');

    const json = JSON.parse((await certmint(['accounts', 'persist-record', idOf(client), '*.wild.persist-cli.test', '--json'])).stdout);
    expect(json).toEqual({
      owner: '_validation-persist.wild.persist-cli.test',
      type: 'TXT',
      value: `ca.persist-cli.test; accounturi=${client.accountUrl}; policy=wildcard`,
      issuerDomainName: 'ca.persist-cli.test',
      accountUri: client.accountUrl,
      name: 'wild.persist-cli.test',
      wildcard: true,
      authorizes: ['wild.persist-cli.test', '*.wild.persist-cli.test', 'every name under wild.persist-cli.test'],
    });
  });

  it('splits a value over 255 octets into several strings of one record', async () => {
    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}`;
    const r = await certmint(['accounts', 'persist-record', idOf(client), 'x.example', '--json'], `${long},ca.persist-cli.test`);
    const value = JSON.parse(r.stdout).value as string;
    const line = (await certmint(['accounts', 'persist-record', idOf(client), 'x.example'], `${long},ca.persist-cli.test`)).stdout.trimEnd().split('\n').pop()!;
    expect(line.match(/"/g)).toHaveLength(4);
    expect(txtValue(line)).toBe(value);
  });

  it('refuses, in one line and changing nothing, what cannot have a record', async () => {
    for (const [args, issuers, message] of [
      [['no-such-account', 'x.example'], ISSUERS, 'certmint: no account no-such-account in this ledger'],
      [[idOf(gone), 'x.example'], ISSUERS, `certmint: account ${idOf(gone)} is deactivated: a record naming it would authorize nothing`],
      [[idOf(client), 'x.example'], '', 'certmint: dns-persist-01 is not configured: set validation.dnsPersist.issuerDomainNames (e.g. ["ca.example.internal"]) first'],
      [[idOf(client), 'bad_name!.example'], ISSUERS, 'certmint: "bad_name!.example" is not a DNS name: '],
      [[idOf(client), 'a.*.example'], ISSUERS, 'certmint: "a.*.example" is not a DNS name: '],
      [[idOf(client), '10.0.0.1'], ISSUERS, 'certmint: "10.0.0.1" is an IP address: dns-persist-01 proves control of DNS names only (use http-01 or tls-alpn-01)'],
      [[idOf(client), '*.::1'], ISSUERS, 'certmint: "*.::1" is an IP address'],
    ] as const) {
      const r = await certmint(['accounts', 'persist-record', ...args], issuers);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.startsWith(message), r.stderr).toBe(true);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
