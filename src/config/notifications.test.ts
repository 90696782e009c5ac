import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-notify-config-'));
function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const f = path.join(dir, `c${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(f, yaml);
  return loadConfig({ file: f, env, cwd: '/srv' });
}
const hook = (over: string) => `notifications:\n  webhooks:\n    - name: ops\n      url: https://hooks.example/x\n      events: [certificate.issued]\n      secretFile: s/ops\n      format: json\n${over}`;

describe('notifications config', () => {
  it('defaults: no webhooks, 10 s per attempt, 10 attempts from 5 s doubling to 30 min, 16 in flight, expiring-unrenewed 3 d ahead', () => {
    expect(loadConfig({ env: {}, cwd: '/srv' }).notifications).toEqual({
      webhooks: [],
      timeoutMs: 10_000,
      maxInFlight: 16,
      maxAttempts: 10,
      backoffBaseMs: 5_000,
      backoffMaxMs: 1_800_000,
      expiringWithinMs: 3 * 86_400_000,
      caExpiringWithinMs: 30 * 86_400_000,
    });
  });

  it('a webhook list from the file; secretFile made absolute; settings from the environment', () => {
    const c = load(hook(''), { CERTMINT_NOTIFICATIONS_MAX_ATTEMPTS: '3', CERTMINT_NOTIFICATIONS_TIMEOUT: '2s' });
    expect(c.notifications.webhooks).toEqual([
      { name: 'ops', url: 'https://hooks.example/x', events: ['certificate.issued'], secretFile: '/srv/s/ops', format: 'json' },
    ]);
    expect(c.notifications.maxAttempts).toBe(3);
    expect(c.notifications.timeoutMs).toBe(2000);
    expect(load(hook(''), { CERTMINT_NOTIFICATIONS_CA_EXPIRING_WITHIN: '60d' }).notifications.caExpiringWithinMs).toBe(60 * 86_400_000);
  });

  it('a corrupt entry is a ConfigError naming its key', () => {
    const refused = (yaml: string, key: RegExp, env: NodeJS.ProcessEnv = {}) => {
      expect(() => load(yaml, env)).toThrow(ConfigError);
      expect(() => load(yaml, env)).toThrow(key);
    };
    refused(hook('').replace('https://hooks.example/x', 'ftp://hooks.example/x'), /notifications\.webhooks\.0\.url/);
    refused(hook('').replace('https://hooks.example/x', 'http://'), /notifications\.webhooks\[0\]\.url: "http:\/\/" is not a URL/);
    refused(hook('').replace('https://hooks.example/x', 'https://u:p@hooks.example/x'), /notifications\.webhooks\[0\]\.url must not carry credentials/);
    refused(hook('').replace('[certificate.issued]', '[certificate.exploded]'), /notifications\.webhooks\.0\.events\.0/);
    refused(hook('').replace('[certificate.issued]', '[]'), /notifications\.webhooks\.0\.events/);
    refused(hook('').replace('format: json', 'format: xml'), /notifications\.webhooks\.0\.format/);
    refused(hook('').replace('      format: json\n', ''), /notifications\.webhooks\.0/);
    refused(hook('      colour: red\n'), /notifications\.webhooks\.0: unknown key "colour"/);
    refused(hook('    - name: ops\n      url: http://b.example/\n      events: [eab.bound]\n      secretFile: t\n      format: slack\n'), /notifications\.webhooks\[1\]\.name: "ops" names another webhook/);
    refused(hook('  backoffBase: 1h\n  backoffMax: 1m\n'), /notifications\.backoffMax \(1m\) must not be shorter than notifications\.backoffBase/);
    refused('notifications:\n  maxInFlight: 0\n', /notifications\.maxInFlight/);
    refused('', /CERTMINT_NOTIFICATIONS_WEBHOOKS is set, but notifications\.webhooks is a list of objects, set in the config file only/, {
      CERTMINT_NOTIFICATIONS_WEBHOOKS: 'x',
    });
  });
});
