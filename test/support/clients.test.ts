import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireOrSkip } from './clients.js';

describe('requireOrSkip', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('is true for a binary on PATH', () => {
    expect(requireOrSkip('sh', 'apt-get install dash')).toBe(true);
  });

  it('is false and says what to install when the binary is missing', () => {
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(requireOrSkip('certmint-no-such-binary', 'apt-get install nothing')).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('apt-get install nothing'));
  });

  it('throws when CERTMINT_REQUIRE_CLIENTS=1', () => {
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '1');
    expect(() => requireOrSkip('certmint-no-such-binary', 'apt-get install nothing')).toThrow(
      /apt-get install nothing/,
    );
  });
});
