import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireGoClientOrSkip } from '../support/clients.js';
import { opensslVerify } from '../support/issued-certificate.js';
import { buildGoClient } from '../interop/go-client.js';

// dns-persist-01 (draft-ietf-acme-dns-persist-01) with golang.org/x/crypto/acme (acmego), which
// knows no such type and answers it by accepting it; the standing record is written into
// pebble-challtestsrv (certmint's only resolver) by acmego from -persist-record, once the account
// URL it must name exists. Each failure is the problem the client reads on the authorization.
const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);

const ISSUER = 'ca.persist-e2e.test';
const RIGHT = `${ISSUER}; accounturi={account}`;

interface SingleResult {
  readonly ok: boolean;
  readonly account: string;
  readonly chain: string;
  readonly validated_by: Readonly<Record<string, string>>;
}

type Outcome = { readonly ok: true; readonly result: SingleResult } | { readonly ok: false; readonly type: string; readonly detail: string; readonly stderr: string };

describe.skipIf(!acmegoFound)('dns-persist-01 with golang.org/x/crypto/acme (acmego) against certmint', () => {
  let certmint: CertmintProcess;
  let run = 0;

  beforeAll(async () => {
    certmint = await startCertmint({ env: { CERTMINT_VALIDATION_DNS_PERSIST_ISSUER_DOMAIN_NAMES: ISSUER } });
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  /** One single-mode flow for `names`; the problem type and detail x/crypto reports when it fails. */
  function acmegoPersist(names: string, record: string, extra: readonly string[] = []): Promise<Outcome> {
    const args = [
      '-directory', certmint.directoryUrl,
      '-ca-bundle', certmint.rootFile,
      '-mode', 'single',
      '-challenge', 'dns-persist-01',
      '-challtestsrv', certmint.dns.managementUrl,
      '-persist-record', record,
      '-names', names,
      '-out', path.join(certmint.tempDir, `acmego-persist-${run++}`),
      ...extra,
    ];
    return new Promise((resolve, reject) => {
      execFile(acmego!, args, { timeout: 100_000 }, (err, stdout, stderr) => {
        if (!err) {
          resolve({ ok: true, result: JSON.parse(stdout.trim().split('\n').pop()!) as SingleResult });
          return;
        }
        // x/crypto: "acme: authorization error for NAME: 403 urn:ietf:params:acme:error:TYPE: DETAIL"
        const m = /urn:ietf:params:acme:error:(\w+): (.*)$/m.exec(stderr);
        if (!m) reject(new Error(`acmego ${args.join(' ')} failed without a problem: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}`));
        else resolve({ ok: false, type: m[1]!, detail: m[2]!, stderr });
      });
    });
  }

  async function issued(names: string, record: string, extra: readonly string[] = []): Promise<SingleResult> {
    const outcome = await acmegoPersist(names, record, extra);
    if (!outcome.ok) throw new Error(`expected a certificate for ${names}, got ${outcome.type}: ${outcome.detail}`);
    return outcome.result;
  }

  async function refused(names: string, record: string, extra: readonly string[] = []): Promise<{ type: string; detail: string }> {
    const outcome = await acmegoPersist(names, record, extra);
    if (outcome.ok) throw new Error(`expected ${names} to be refused, got a certificate`);
    return { type: outcome.type, detail: outcome.detail };
  }

  it('issues for a name from its standing record', { timeout: 60_000 }, async () => {
    const result = await issued('plain.persist-e2e.test', RIGHT);
    expect(result.validated_by).toEqual({ 'plain.persist-e2e.test': 'dns-persist-01' });
    await expect(opensslVerify(certmint.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
  });

  it('issues a wildcard with policy=wildcard, and refuses it without', { timeout: 60_000 }, async () => {
    const result = await issued('*.wild.persist-e2e.test', `${RIGHT}; policy=wildcard`);
    expect(result.validated_by).toEqual({ 'wild.persist-e2e.test': 'dns-persist-01' });
    const p = await refused('*.tame.persist-e2e.test', RIGHT);
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toMatch(/^dns-persist-01 record at _validation-persist\.tame\.persist-e2e\.test does not permit the wildcard \*\.tame\.persist-e2e\.test: "ca\.persist-e2e\.test; accounturi=https:\/\/[^"]+": it does not carry policy=wildcard$/);
  });

  it('issues for a name under a parent whose record carries policy=wildcard', { timeout: 60_000 }, async () => {
    const result = await issued('www.team.parent.persist-e2e.test', `${RIGHT}; policy=wildcard`, ['-persist-owner', '_validation-persist.parent.persist-e2e.test']);
    expect(result.validated_by).toEqual({ 'www.team.parent.persist-e2e.test': 'dns-persist-01' });
  });

  it('follows a CNAME at _validation-persist.<name> to a delegated zone', { timeout: 60_000 }, async () => {
    await certmint.dns.setCname('_validation-persist.cname.persist-e2e.test', 'cname.records.delegated-e2e.test');
    const result = await issued('cname.persist-e2e.test', RIGHT, ['-persist-owner', 'cname.records.delegated-e2e.test']);
    expect(result.validated_by).toEqual({ 'cname.persist-e2e.test': 'dns-persist-01' });
  });

  it('refuses another account\'s record, naming both account URLs', { timeout: 60_000 }, async () => {
    const other = await issued('owner.persist-e2e.test', RIGHT);
    const p = await refused('theirs.persist-e2e.test', `${ISSUER}; accounturi=${other.account}`);
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toMatch(/^dns-persist-01 record at _validation-persist\.theirs\.persist-e2e\.test names another account: /);
    expect(p.detail).toContain(`accounturi is "${other.account}", not this account's "${certmint.baseUrl}/acme/acct/`);
  });

  it('refuses a record for another CA, naming the issuers found and ours', { timeout: 60_000 }, async () => {
    const p = await refused('wrong-issuer.persist-e2e.test', 'other-ca.example; accounturi={account}');
    expect(p).toEqual({
      type: 'unauthorized',
      detail: 'no dns-persist-01 record at _validation-persist.wrong-issuer.persist-e2e.test (nor at the 1 parent name looked at) names this CA ("ca.persist-e2e.test"); records found name "other-ca.example"',
    });
  });

  it('refuses a record whose persistUntil has passed, with the time', { timeout: 60_000 }, async () => {
    const p = await refused('expired.persist-e2e.test', `${RIGHT}; persistUntil=1700000000`);
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toMatch(/^dns-persist-01 record at _validation-persist\.expired\.persist-e2e\.test has expired: ".*": persistUntil 1700000000 \(2023-11-14T22:13:20Z\) has passed$/);
  });

  it('answers malformed with the parse error for a broken record naming this CA', { timeout: 60_000 }, async () => {
    const p = await refused('malformed.persist-e2e.test', `${RIGHT}; policy=wildcard; POLICY=wildcard`);
    expect(p.type).toBe('malformed');
    expect(p.detail).toMatch(/^dns-persist-01 record at _validation-persist\.malformed\.persist-e2e\.test does not parse: ".*": parameter "POLICY" appears twice$/);
  });

  it('refuses a name with no record at all', { timeout: 60_000 }, async () => {
    const p = await refused('none.persist-e2e.test', '');
    expect(p).toEqual({
      type: 'unauthorized',
      detail: 'no TXT record at _validation-persist.none.persist-e2e.test (nor at the 1 parent name looked at): add the dns-persist-01 record naming ca.persist-e2e.test and this account',
    });
  });
});
