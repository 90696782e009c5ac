import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config.js';
import { loadWebhooks } from './secrets.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-webhook-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hook = (secretFile: string) => ({ name: 'ops', url: 'https://h.example/', events: ['eab.bound' as const], secretFile, format: 'json' as const });
const file = (name: string, content: string, mode = 0o600) => {
  const p = path.join(dir, name);
  writeFileSync(p, content, { mode });
  return p;
};

describe('webhook secrets', () => {
  it('one trailing newline (LF or CRLF) is dropped, nothing else', () => {
    const text = (p: string) => Buffer.from(loadWebhooks([hook(p)])[0]!.secret).toString();
    expect(text(file('lf', 's3cret\n'))).toBe('s3cret');
    expect(text(file('crlf', 's3cret\r\n'))).toBe('s3cret');
    expect(text(file('none', 's3cret'))).toBe('s3cret');
    expect(text(file('two', 's3cret\n\n'))).toBe('s3cret\n');
    expect(text(file('spaces', ' s3cret '))).toBe(' s3cret ');
  });

  it('a missing or empty secret file is a ConfigError naming the key and the webhook', () => {
    expect(() => loadWebhooks([hook(path.join(dir, 'absent'))])).toThrow(ConfigError);
    expect(() => loadWebhooks([hook(path.join(dir, 'absent'))])).toThrow(/^notifications\.webhooks\[0\]\.secretFile \(webhook ops\) .*absent cannot be read: ENOENT/);
    expect(() => loadWebhooks([hook(file('empty', '\n'))])).toThrow(/^notifications\.webhooks\[0\]\.secretFile \(webhook ops\): .*empty is empty$/);
  });

  it('a secret file group or others may read is refused, naming the file and the fix', () => {
    const loose = file('loose', 's3cret\n', 0o644);
    expect(() => loadWebhooks([hook(loose)])).toThrow(ConfigError);
    expect(() => loadWebhooks([hook(loose)])).toThrow(/^notifications\.webhooks\[0\]\.secretFile \(webhook ops\) .*loose has mode 0644: .*Fix: chmod 600 .*loose$/);
    expect(Buffer.from(loadWebhooks([hook(file('owner-only', 's3cret\n', 0o400))])[0]!.secret).toString()).toBe('s3cret');
  });
});
