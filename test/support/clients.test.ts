import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireGoClientOrSkip, requireOrSkip, requireOrSkipFound, requireRootOrSkip } from './clients.js';

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

  it('requireOrSkipFound: the same rule for a tool found off PATH (PostgreSQL in /usr/lib/postgresql)', () => {
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(requireOrSkipFound(true, 'unused', 'PostgreSQL', 'apt-get install postgresql')).toBe(true);
    expect(requireOrSkipFound(false, 'no initdb', 'PostgreSQL', 'apt-get install postgresql')).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('no initdb; install it with: apt-get install postgresql'));
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '1');
    expect(() => requireOrSkipFound(false, 'no initdb', 'PostgreSQL', 'apt-get install postgresql')).toThrow(/CERTMINT_REQUIRE_CLIENTS=1/);
  });

  it('requireRootOrSkip: not root skips, or fails the file with a hint under CERTMINT_REQUIRE_CLIENTS=1', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(0);
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '1');
    expect(requireRootOrSkip('mount a tmpfs')).toBe(true);
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    expect(() => requireRootOrSkip('mount a tmpfs')).toThrow(/not running as root \(needed to mount a tmpfs\); run the tests as root/);
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(requireRootOrSkip('mount a tmpfs')).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('skipping tests that need root'));
  });

  it('requireGoClientOrSkip: a missing Go client fails the file under CERTMINT_REQUIRE_CLIENTS=1', () => {
    vi.stubEnv('CERTMINT_REQUIRE_CLIENTS', '1');
    expect(requireGoClientOrSkip('/usr/local/bin/acmego')).toBe(true);
    expect(() => requireGoClientOrSkip(null)).toThrow(/apt-get install golang-go golang-golang-x-crypto-dev/);
  });
});
