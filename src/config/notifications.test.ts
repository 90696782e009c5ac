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
      email: undefined,
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

  it('email: off until from and smtp.host are set; then STARTTLS required on 587, both events, files made absolute; all from the environment too', () => {
    const c = load('notifications:\n  email:\n    from: certmint@ca.example\n    smtp:\n      host: relay.example\n      usernameFile: s/user\n      passwordFile: s/pw\n');
    expect(c.notifications.email).toEqual({
      from: 'certmint@ca.example',
      events: ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'],
      smtp: { host: 'relay.example', port: 587, starttls: 'required', usernameFile: '/srv/s/user', passwordFile: '/srv/s/pw', caFile: undefined },
    });
    const e = loadConfig({
      env: {
        CERTMINT_NOTIFICATIONS_EMAIL_FROM: 'ca@example.org',
        CERTMINT_NOTIFICATIONS_EMAIL_EVENTS: 'certificate.expiring-unrenewed',
        CERTMINT_NOTIFICATIONS_EMAIL_SMTP_HOST: '127.0.0.1',
        CERTMINT_NOTIFICATIONS_EMAIL_SMTP_PORT: '25',
        CERTMINT_NOTIFICATIONS_EMAIL_SMTP_STARTTLS: 'off',
        CERTMINT_NOTIFICATIONS_EMAIL_SMTP_CA_FILE: 'relay-ca.pem',
      },
      cwd: '/srv',
    });
    expect(e.notifications.email).toEqual({
      from: 'ca@example.org',
      events: ['certificate.expiring-unrenewed'],
      smtp: { host: '127.0.0.1', port: 25, starttls: 'off', usernameFile: undefined, passwordFile: undefined, caFile: '/srv/relay-ca.pem' },
    });
    for (const host of ['localhost', '::1', '127.0.0.53']) {
      expect(loadConfig({ env: { CERTMINT_NOTIFICATIONS_EMAIL_FROM: 'a@b.example', CERTMINT_NOTIFICATIONS_EMAIL_SMTP_HOST: host, CERTMINT_NOTIFICATIONS_EMAIL_SMTP_STARTTLS: 'off' }, cwd: '/' }).notifications.email?.smtp.starttls).toBe('off');
    }
  });

  it('email: a half-made or unsafe setting is a ConfigError naming its key', () => {
    const refused = (env: NodeJS.ProcessEnv, key: RegExp) => {
      const base = { CERTMINT_NOTIFICATIONS_EMAIL_FROM: 'certmint@ca.example', CERTMINT_NOTIFICATIONS_EMAIL_SMTP_HOST: 'relay.example' };
      const all = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
      expect(() => loadConfig({ env: all, cwd: '/srv' })).toThrow(ConfigError);
      expect(() => loadConfig({ env: all, cwd: '/srv' })).toThrow(key);
    };
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_SMTP_HOST: undefined }, /notifications\.email\.from is set but notifications\.email\.smtp\.host is not/);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_FROM: undefined }, /notifications\.email\.smtp\.host is set but notifications\.email\.from is not/);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_SMTP_STARTTLS: 'off' }, /notifications\.email\.smtp\.starttls is off but the relay relay\.example is not on loopback/);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_SMTP_STARTTLS: 'optional' }, /notifications\.email\.smtp\.starttls/);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_SMTP_USERNAME_FILE: 'u' }, /smtp\.usernameFile and smtp\.passwordFile go together/);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_EVENTS: 'certificate.issued' }, /notifications\.email\.events\.0/);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_FROM: 'certmint@ca.example\r\nBcc: x@evil.example' }, /notifications\.email\.from: ".*" is not a plain address/s);
    refused({ CERTMINT_NOTIFICATIONS_EMAIL_SMTP_HOST: 'relay.example\r\nRCPT' }, /notifications\.email\.smtp\.host/);
    expect(() => load(hook('').replace('name: ops', 'name: email'))).toThrow(/notifications\.webhooks\[0\]\.name: "email" is the name email deliveries \(notifications\.email\) go by/);
  });
});
