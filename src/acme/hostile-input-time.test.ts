import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { certificatesInPem } from '../ca/external-root.js';
import { normalizeAccountId } from '../cli/commands/accounts.js';
import { pointInTime } from '../cli/commands/audit.js';
import { normalizeSerial } from '../cli/commands/certs.js';
import { parseReason } from '../cli/commands/revoke.js';
import { loadConfig } from '../config/config.js';
import { parseDuration } from '../core/duration.js';
import { redactUrlPassword } from '../core/redact-url.js';
import { AccessPolicy } from '../policy/access.js';
import { checkOrderIdentifiers, dnsNameProblem, ipAddressProblem } from '../policy/identifiers.js';
import { checkContacts } from '../ra/accounts.js';
import { parseCertId } from '../ra/renewal-info.js';
import { caaRefusal } from '../validation/caa.js';
import { ownEndpoint } from '../validation/own-endpoint.js';
import { reverseDnsName } from '../validation/tls-alpn01.js';
import { AcmeUrls } from './urls.js';
import { parseHostsFile } from '../validation/hosts-file.js';
import { parseResolvConf } from '../validation/resolv-conf.js';

// Every check that reads text from outside (ACME requests, DNS answers, config, the command line)
// gets 64 kB runs of the characters its parsing repeats on. A backtracking regular expression of
// the wrong shape takes seconds on these (the contact check took 8 s on 65,000 dots); a linear
// check takes well under a millisecond. The bound is CPU time of this process, so other work on
// a loaded machine does not count, and is hundreds of times what the checks take here.
const BOUND_MS = 250;
const SIZE = 65_536;

function cpuMs(work: () => unknown): number {
  const start = process.cpuUsage();
  try {
    work();
  } catch {
    // Refusing is a fine answer; only the time is under test here.
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** prefix + unit repeated to about 64 kB + suffix, for every combination. */
function runs(prefixes: readonly string[], units: readonly string[], suffixes: readonly string[]): string[] {
  return prefixes.flatMap((p) => units.flatMap((u) => suffixes.map((s) => `${p}${u.repeat(Math.ceil(SIZE / u.length))}${s}`)));
}

const CHECKS: ReadonlyArray<readonly [string, (input: string) => unknown, readonly string[]]> = [
  ['newAccount contact (checkContacts)', (s) => checkContacts([`mailto:${s}`]), runs(['', 'a', 'a@', '@'], ['.', 'a', '@', ' ', 'a.', '.a', '?'], ['', ' ', '!', '@'])],
  ['dns identifier (dnsNameProblem)', (s) => dnsNameProblem(s), runs(['', '*.', 'xn--'], ['a', 'a.', '-', '1', '1.', 'é', '*.', 'xn--a.'], ['', '!', '.', ' '])],
  ['newOrder identifiers (checkOrderIdentifiers)', (s) => checkOrderIdentifiers([{ type: 'dns', value: s }, { type: 'ip', value: s }]), runs([''], ['a.', '1.', ':', '-'], ['', '!'])],
  ['ip identifier (ipAddressProblem)', (s) => ipAddressProblem(s), runs(['', '::'], ['1', '1.', ':', '0:', 'f'], ['', '%', 'x'])],
  ['policy pattern and match (AccessPolicy)', (s) => new AccessPolicy('p', { allow: [], deny: [s], challenges: [] }).refusal({ type: 'dns', value: `*.${s}` }), runs(['', '*.'], ['a', 'a.', '-', '1/', '/'], ['', '!', '/1'])],
  ['CAA issue value (caaRefusal)', (s) => caaRefusal([{ critical: false, tag: 'issue', value: s }], { identifier: { type: 'dns', value: 'x.internal' }, wildcard: false, accountUri: 'u', method: 'dns-01' }, ['ca.internal']), runs(['', 'ca.internal;', 'ca.internal; a='], ['a', 'a-', 'a.', '-', ' ', '=', ';'], ['', '!', ' x'])],
  ['ARI certID (parseCertId)', (s) => parseCertId(s), runs(['', 'a.'], ['a', '.', '-'], ['', '!'])],
  ['durations (parseDuration)', (s) => parseDuration(s), runs(['', '1', ' 1'], [' ', '1', '.', '1.', '\t'], ['', 'x', ' x', 'ms!'])],
  ['config durations, baseUrl and listen (loadConfig)', (s) => loadConfig({ env: { CERTMINT_VALIDATION_TIMEOUT: s, CERTMINT_SERVER_BASE_URL: `http://h/${s}`, CERTMINT_SERVER_LISTEN: s } }), runs(['', '1', '[', 'h/'], [' ', '/', ':', '1', 'a.'], ['', 'x', ':1'])],
  ['baseUrl path (AcmeUrls)', (s) => new AcmeUrls(`http://h/${s}`), runs([''], ['/', 'a/'], ['', 'a'])],
  ['listen host (ownEndpoint)', (s) => ownEndpoint({ host: s, port: 1 }, () => ({})), runs(['', '['], ['%', '%\n', ']'], ['', '\n', ']'])],
  ['ip reverse name (reverseDnsName)', (s) => reverseDnsName(s), runs(['', '::'], ['1', '1.', ':'], ['', 'x'])],
  ['PEM blocks (certificatesInPem)', (s) => certificatesInPem(s, 'f'), runs([''], ['-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\n'], ['', '-----END'])],
  ['URL passwords (redactUrlPassword)', (s) => redactUrlPassword(s), runs(['', 'x://', 'x://a:'], ['a', ':', '@', 'a:'], ['', '/', '@'])],
  ['hosts file (parseHostsFile)', (s) => parseHostsFile(s), runs(['', '127.0.0.1', '::1 ', '#'], [' ', '\t', 'a', '#', '\n', '\r\n', ' a'], ['', 'x', '\n1.1.1.1 y'])],
  ['resolv.conf (parseResolvConf)', (s) => parseResolvConf(s), runs(['', 'search ', 'options ', 'options ndots:'], [' ', '\t', 'a.', '1', '\n', '#', 'ndots:1 '], ['', 'x', '\nsearch y'])],
  ['CLI serial, account id, reason, --since', (s) => [normalizeSerial(s), normalizeAccountId(s), parseReason(s), pointInTime('--since', s, new Date(0))], runs(['', '1'], [':', 'a', '1', ' '], ['', 'x', ' x'])],
];

describe('every check of outside input answers 64 kB of adversarial text in linear time', () => {
  it.each(CHECKS)('%s', (_name, check, inputs) => {
    // Once on short input first: loading what a refusal needs (typebox, for a config's errors) is not the check.
    for (const input of inputs) cpuMs(() => check(input.slice(0, 64) + input.slice(-8)));
    const slow = inputs.map((input) => ({ input: JSON.stringify(input.slice(0, 30)) + `… (${input.length})`, ms: cpuMs(() => check(input)) })).filter((r) => r.ms > BOUND_MS);
    expect(slow).toEqual([]);
  });
});

describe('newAccount with a 64 kB contact (issue 19)', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp();
  });
  afterAll(async () => t?.close());
  const accounts = () => ((t.ledger as unknown as { db: Database.Database }).db.prepare('SELECT COUNT(*) AS n FROM accounts').get() as { n: number }).n;

  it('refuses it with invalidContact at once, naming the limit, and creates no account', async () => {
    // The largest such contact that fits the default 64 kB body once base64url-encoded in a JWS.
    const contact = `mailto:a@${'.'.repeat(46_000)} `;
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    const before = accounts();
    const started = process.cpuUsage();
    const res = await client.register({ termsOfServiceAgreed: true, contact: [contact] });
    const used = process.cpuUsage(started);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      type: 'urn:ietf:params:acme:error:invalidContact',
      detail: expect.stringContaining('has an address of 46003 characters; an email address has at most 254 (RFC 5321'),
    });
    expect(accounts()).toBe(before);
    // The regular expression this replaced spent 3 s on this request; the whole request (JWS
    // signing and verification included) now takes a few milliseconds.
    expect((used.user + used.system) / 1000).toBeLessThan(1000);
  });
});
