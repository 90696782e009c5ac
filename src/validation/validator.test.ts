import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { AcmeProblem } from '../core/problem.js';
import type { NameResolver } from './resolver.js';
import { createValidator, type ValidationRequest } from './validator.js';

const KEY_AUTH = 'tok.thumb';
/** Faked DNS answers only: the TXT record a dns-01 client would have published. */
const resolver: NameResolver = {
  resolve: async () => ['127.0.0.1'],
  resolveTxt: async () => [createHash('sha256').update(KEY_AUTH).digest('base64url')],
  resolveCaa: async () => [],
};
const request: ValidationRequest = {
  type: 'dns-01',
  identifier: { type: 'dns', value: 'rate.test' },
  wildcard: false,
  token: 'tok',
  keyAuthorization: KEY_AUTH,
  accountUri: 'https://ca.test/acme/acct/1',
};
const base = { resolver, timeoutMs: 1000, http01Port: 80, tlsAlpn01Port: 443 };

describe('createValidator', () => {
  it('offers every challenge type unless told otherwise, and refuses one it does not offer', async () => {
    expect(createValidator(base).challengeTypes).toEqual(['http-01', 'dns-01', 'tls-alpn-01']);
    const httpOnly = createValidator({ ...base, challengeTypes: ['http-01'] });
    await expect(httpOnly.validate(request)).rejects.toMatchObject({ type: 'malformed', detail: 'challenge type dns-01 is not enabled on this server' });
  });

  it('fails the share testFailureRate of validations before checking anything, passes the rest', async () => {
    let next = 0;
    const rolls = [0.49, 0.5, 0.99];
    const v = createValidator({ ...base, failureRate: 0.5, random: () => rolls[next++]! });
    const outcomes = [];
    for (let i = 0; i < rolls.length; i++) outcomes.push(await v.validate(request).then(() => 'valid', (e: AcmeProblem) => e.type));
    expect(outcomes).toEqual(['incorrectResponse', 'valid', 'valid']);
    // Without the setting nothing is drawn.
    const never = createValidator({ ...base, random: () => { throw new Error('drawn'); } });
    await expect(never.validate(request)).resolves.toBeUndefined();
  });

  it('looks up CAA beside the challenge, not after it; both must pass, and the challenge\'s problem is told first', async () => {
    const started: string[] = [];
    let releaseTxt!: () => void;
    const txtHeld = new Promise<void>((r) => (releaseTxt = r));
    let txtAnswer = [createHash('sha256').update(KEY_AUTH).digest('base64url')];
    let caaAnswer = [{ critical: 0, issue: 'certmint.test' }];
    const slow: NameResolver = {
      resolve: async () => ['127.0.0.1'],
      resolveTxt: async () => {
        started.push('txt');
        await txtHeld;
        return txtAnswer;
      },
      resolveCaa: async () => {
        started.push('caa');
        return caaAnswer;
      },
    };
    const v = createValidator({ ...base, resolver: slow, caa: { identities: ['certmint.test'], recheckAfterMs: 0 } });
    const first = v.validate(request);
    // The CAA lookup ran while the TXT answer was still outstanding.
    await vi.waitFor(() => expect(started).toEqual(['txt', 'caa']));
    releaseTxt();
    await expect(first).resolves.toBeUndefined();

    caaAnswer = [{ critical: 0, issue: 'other.example' }];
    await expect(v.validate(request)).rejects.toMatchObject({ type: 'caa' });
    txtAnswer = ['wrong'];
    await expect(v.validate(request)).rejects.toMatchObject({ type: 'incorrectResponse' });
  });
});
