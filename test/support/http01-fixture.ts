import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Identifier } from '../../src/core/identifier.js';
import { AcmeProblem, type ProblemType } from '../../src/core/problem.js';
import type { Http01Options } from '../../src/validation/http01.js';
import { createResolver, type NameResolver } from '../../src/validation/resolver.js';
import { startChallTestSrv, type ChallTestSrv } from './challtestsrv.js';
import { closeRecordingServers } from './recording-servers.js';

/** What src/validation/http01*.test.ts share: one challenge, the names its DNS answers, problem checks. */
export const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
export const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
export const CHALLENGE_PATH = `/.well-known/acme-challenge/${TOKEN}`;

export const dns = (value: string): Identifier => ({ type: 'dns', value });

export function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

export async function problemFrom(promise: Promise<unknown>, type: ProblemType, identifier: Identifier): Promise<AcmeProblem> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AcmeProblem);
  const problem = err as AcmeProblem;
  expect({ type: problem.type, detail: problem.detail }).toMatchObject({ type });
  expect(problem.identifier).toEqual(identifier);
  return problem;
}

/** pebble-challtestsrv answering the names the http-01 tests use, and a resolver that asks it. */
export async function validationDns(): Promise<{ srv: ChallTestSrv; resolver: NameResolver }> {
  const srv = await startChallTestSrv({ defaultIPv4: '', defaultIPv6: '' });
  for (const name of ['ok.validation.test', 'hop.validation.test', 'final.validation.test', 'tls.validation.test']) {
    await srv.addA(name, '127.0.0.1');
  }
  // 127.0.0.2 refuses every port, so the validation has to move on to 127.0.0.1.
  await srv.addA('fallback.validation.test', ['127.0.0.2', '127.0.0.1']);
  // An applicant's host beside the CA (127.0.0.1) on the same port, and a name on both.
  await srv.addA('neighbour.validation.test', '127.0.0.2');
  await srv.addA('both.validation.test', ['127.0.0.1', '127.0.0.2']);
  // Names an applicant points at link-local addresses (cloud metadata, IPv6 link-local), and one
  // whose other address is the applicant's. (pebble-challtestsrv cannot serve an IPv4-mapped
  // AAAA; that spelling is covered by the literal in http01-address-guard.test.ts and by address-guard.test.ts.)
  await srv.addA('metadata.validation.test', '169.254.169.254');
  await srv.addAAAA('linklocal6.validation.test', 'fe80::1');
  await srv.addA('mixed.validation.test', ['169.254.169.254', '127.0.0.1']);
  return { srv, resolver: createResolver([srv.dnsAddress], 2000) };
}

/**
 * Inside a describe: validationDns() for its tests (started before them, stopped after), recording
 * servers closed after each test; `options` gives validateHttp01's options on its resolver.
 */
export function useValidationDns(): { options: (port: number, extra?: Partial<Http01Options>) => Http01Options } {
  let dnsServer: ChallTestSrv | undefined;
  let resolver: NameResolver;
  beforeAll(async () => {
    ({ srv: dnsServer, resolver } = await validationDns());
  });
  afterEach(closeRecordingServers);
  afterAll(async () => {
    await dnsServer?.stop();
  });
  return { options: (port, extra = {}) => ({ port, timeoutMs: 2000, resolver, ...extra }) };
}
