import { X509Certificate, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import path from 'node:path';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { CLIENT_AUTH, SERVER_AUTH, dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';

// acme-client (npm, v5) in this process: the client Node services embed (e.g. behind greenlock-like
// tools). It is a devDependency, so it is always there and never skipped.
describe('acme-client against certmint', () => {
  let certmint: CertmintProcess;
  let responder: Http01Responder;
  let client: acme.Client;

  beforeAll(async () => {
    certmint = await startCertmint();
    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    // acme-client's README: it talks through the axios instance it exports, so TLS trust goes
    // on that instance's defaults (an https.Agent trusting certmint's roots).
    acme.axios.defaults.httpsAgent = new Agent({ ca: certmint.rootPem });
    client = new acme.Client({ directoryUrl: certmint.directoryUrl, accountKey: await acme.crypto.createPrivateKey() });
  });
  afterAll(async () => {
    await responder?.stop();
    await certmint?.stop();
  });

  async function issue(names: readonly string[], keyPem: Buffer): Promise<string> {
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: [...names] }, keyPem);
    const started = performance.now();
    try {
      const pem = await client.auto({
        csr,
        email: 'ops@example.internal',
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // acme-client first fetches the challenge itself through the system resolver, which does not
        // know the test names (only certmint's resolver, pebble-challtestsrv, does); certmint's own
        // validation is what is under test.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          responder.set(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async () => {},
      });
      console.log(`acme-client auto for ${names.join(', ')}: ${Math.round(performance.now() - started)} ms`);
      return pem;
    } catch (err) {
      throw new Error(`acme-client auto failed: ${(err as Error).message}\n--- certmint ---\n${certmint.output()}`);
    }
  }

  async function expectIssuedByCertmint(fullchainPem: string, names: readonly string[], keyPem: Buffer): Promise<X509Certificate> {
    const blocks = splitPem(fullchainPem);
    expect(blocks).toHaveLength(2);
    // Saved the way a service would store it; openssl verifies the first certificate of the file
    // and finds the intermediate among the rest.
    const fullchainFile = path.join(certmint.tempDir, `${names[0]}.fullchain.pem`);
    await writeFile(fullchainFile, fullchainPem);
    await expect(opensslVerify(certmint.rootFile, fullchainFile, fullchainFile)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(blocks[0]!);
    expect(dnsNames(leaf)).toEqual([...names].sort());
    expect(leaf.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]));
    expect(leaf.publicKey.equals(createPublicKey(keyPem))).toBe(true);
    return leaf;
  }

  it('gets a certificate for an RSA CSR with http-01', { timeout: 120_000 }, async () => {
    const names = ['web.acme-client.test', 'api.acme-client.test'];
    const key = await acme.crypto.createPrivateRsaKey(2048);
    const leaf = await expectIssuedByCertmint(await issue(names, key), names, key);
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('gets a certificate for an ECDSA P-256 CSR with http-01 on the same account', { timeout: 120_000 }, async () => {
    const names = ['ec.acme-client.test', 'www.ec.acme-client.test'];
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    const leaf = await expectIssuedByCertmint(await issue(names, key), names, key);
    expect(leaf.publicKey.asymmetricKeyType).toBe('ec');
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});
