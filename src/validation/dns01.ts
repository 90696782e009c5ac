import { createHash } from 'node:crypto';
import type { Identifier } from '../core/identifier.js';
import { AcmeProblem } from '../core/problem.js';
import type { NameResolver } from './resolver.js';

export interface Dns01Options {
  readonly resolver: NameResolver;
  readonly timeoutMs: number;
}

/**
 * RFC 8555 §8.4: a TXT record at _acme-challenge.<name> holding base64url(SHA-256(key
 * authorization)), looked up through validation.dnsResolvers (CNAMEs followed, so delegated
 * challenge zones work). Any one of several TXT values may match.
 */
export async function validateDns01(identifier: Identifier, keyAuthorization: string, o: Dns01Options): Promise<void> {
  const name = `_acme-challenge.${identifier.value}`;
  const expected = createHash('sha256').update(keyAuthorization).digest('base64url');
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), o.timeoutMs);
  let values: string[];
  try {
    values = await o.resolver.resolveTxt(name, controller.signal);
  } catch (e) {
    if (e instanceof AcmeProblem) throw new AcmeProblem(e.type, e.detail, { identifier });
    throw e;
  } finally {
    clearTimeout(deadline);
  }
  if (!values.includes(expected)) {
    // The values found are not quoted: a CNAME at the name can point the CA's resolver at an
    // internal zone, whose TXT records (verification tokens, keys) are not the applicant's to read.
    const found = values.length === 0 ? 'none' : `${values.length} other value${values.length === 1 ? '' : 's'}`;
    throw new AcmeProblem('incorrectResponse', `no TXT record at ${name} matches this challenge: expected "${expected}", found ${found}`, {
      identifier,
    });
  }
}
