import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

// server.workers: 1 (one process, the default), a number, or `auto` (the cores the affinity mask allows).
describe('server.workers', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-workers-config-'));
  const file = (name: string, yaml: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, yaml);
    return f;
  };

  it('is 1 by default: one process, no cluster', () => {
    expect(loadConfig({ env: {} }).server.workers).toBe(1);
  });

  it('takes a number from the file or CERTMINT_SERVER_WORKERS, the variable winning', () => {
    expect(loadConfig({ file: file('four.yaml', 'server:\n  workers: 4\n'), env: {} }).server.workers).toBe(4);
    expect(loadConfig({ file: file('four-env.yaml', 'server:\n  workers: 4\n'), env: { CERTMINT_SERVER_WORKERS: '3' } }).server.workers).toBe(3);
  });

  it('resolves auto to the cores this process may run on', () => {
    const expected = Math.min(os.availableParallelism(), 64);
    expect(loadConfig({ env: { CERTMINT_SERVER_WORKERS: 'auto' } }).server.workers).toBe(expected);
    expect(loadConfig({ file: file('auto.yaml', 'server:\n  workers: auto\n'), env: {} }).server.workers).toBe(expected);
  });

  it.each(['0', '-2', '1.5', '65', 'many', 'AUTO', ''])('refuses %j naming the key', (value) => {
    expect(() => loadConfig({ env: { CERTMINT_SERVER_WORKERS: value } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { CERTMINT_SERVER_WORKERS: value } })).toThrow(/server\.workers/);
  });
});

// server.http2: `auto` (the default) is on exactly when several workers run (docs/scale-out.md#http2).
describe('server.http2', () => {
  it('auto by default: off for one process, on with several workers (a number or auto on more than one core)', () => {
    expect(loadConfig({ env: {} }).server.http2).toBe(false);
    expect(loadConfig({ env: { CERTMINT_SERVER_WORKERS: '2' } }).server.http2).toBe(true);
    expect(loadConfig({ env: { CERTMINT_SERVER_WORKERS: 'auto' } }).server.http2).toBe(Math.min(os.availableParallelism(), 64) > 1);
  });

  it.each([
    ['true', '1', true],
    ['1', '1', true],
    ['false', '4', false],
    ['no', '4', false],
    ['auto', '4', true],
    ['auto', '1', false],
  ] as const)('CERTMINT_SERVER_HTTP2=%s with %s workers: %s', (value, workers, expected) => {
    expect(loadConfig({ env: { CERTMINT_SERVER_HTTP2: value, CERTMINT_SERVER_WORKERS: workers } }).server.http2).toBe(expected);
  });

  it('takes true, false or auto from the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-http2-config-'));
    const at = (yaml: string) => {
      const f = path.join(dir, 'c.yaml');
      writeFileSync(f, yaml);
      return loadConfig({ file: f, env: {} }).server.http2;
    };
    expect(at('server:\n  http2: true\n')).toBe(true);
    expect(at('server:\n  http2: false\n  workers: 2\n')).toBe(false);
    expect(at('server:\n  http2: auto\n  workers: 2\n')).toBe(true);
  });

  it.each(['maybe', 'AUTO', '2', ''])('refuses %j naming the key', (value) => {
    expect(() => loadConfig({ env: { CERTMINT_SERVER_HTTP2: value } })).toThrow(/server\.http2/);
  });
});
