import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('admin.* config', () => {
  it('is off by default and served on the ACME listener', () => {
    expect(loadConfig({ env: {}, cwd: '/srv' }).admin).toEqual({ enabled: false, listen: undefined, clientCertificates: false });
  });

  it('reads CERTMINT_ADMIN_ENABLED and CERTMINT_ADMIN_LISTEN', () => {
    const c = loadConfig({ env: { CERTMINT_ADMIN_ENABLED: 'true', CERTMINT_ADMIN_LISTEN: '127.0.0.1:9444' }, cwd: '/srv' });
    expect(c.admin).toEqual({ enabled: true, listen: { host: '127.0.0.1', port: 9444 }, clientCertificates: false });
  });

  it('refuses a listen address that is not host:port, or that is server.listen, in one line naming the key', () => {
    const load = (listen: string) => () => loadConfig({ env: { CERTMINT_SERVER_LISTEN: '127.0.0.1:8443', CERTMINT_ADMIN_LISTEN: listen }, cwd: '/srv' });
    expect(load('nope')).toThrow(ConfigError);
    expect(load('nope')).toThrow(/^admin\.listen "nope" must be host:port/);
    expect(load('127.0.0.1:8443')).toThrow(/^admin\.listen "127\.0\.0\.1:8443" is server\.listen's address/);
    expect(load('127.0.0.1:8443')).not.toThrow(/\n/);
  });

  it('takes admin.clientCertificates only with a listener of its own and TLS, refusing otherwise in one line', () => {
    const env = { CERTMINT_ADMIN_ENABLED: 'true', CERTMINT_ADMIN_CLIENT_CERTIFICATES: 'true' };
    expect(loadConfig({ env: { ...env, CERTMINT_ADMIN_LISTEN: '127.0.0.1:9444' }, cwd: '/srv' }).admin.clientCertificates).toBe(true);
    const alone = () => loadConfig({ env, cwd: '/srv' });
    expect(alone).toThrow(ConfigError);
    expect(alone).toThrow(/^admin\.clientCertificates needs admin\.listen: client certificates are asked for on the admin API's own listener, never on the ACME listener$/);
    const plain = () => loadConfig({ env: { ...env, CERTMINT_ADMIN_LISTEN: '127.0.0.1:9444', CERTMINT_SERVER_TLS_ENABLED: 'false', CERTMINT_SERVER_BASE_URL: 'https://acme.example' }, cwd: '/srv' });
    expect(plain).toThrow(/^admin\.clientCertificates needs server\.tls\.enabled/);
  });
});
