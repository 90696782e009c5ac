import { describe, expect, it } from 'vitest';
import { parseNameConstraints } from '../ca/name-constraints.js';
import { loadConfig } from '../config/config.js';
import { configuredNameConstraints } from './composition.js';
import { nameConstraintsDrift, serverHostnamesRefusal } from './name-constraints-check.js';

const nc = parseNameConstraints({ permitted: ['example.internal', '10.0.0.0/8'], excluded: ['secret.example.internal'] });

describe('serverHostnamesRefusal', () => {
  it('names every hostname outside the constraints, each with the constraint', () => {
    const refusal = serverHostnamesRefusal(['certmint.example.internal', 'localhost', '10.0.0.5', '::1', 'secret.example.internal'], nc);
    expect(refusal).toBe(
      'server.tls.hostnames: certmint\'s own HTTPS certificate comes from its intermediate CA, which may not sign them: ' +
        '"localhost" is outside the permitted name constraints (example.internal); ' +
        'IP address ::1 is outside the permitted name constraints (10.0.0.0/8); ' +
        '"secret.example.internal" falls under the excluded name constraint secret.example.internal. ' +
        'List only names within the constraints in server.tls.hostnames (or set server.tls.enabled: false behind a TLS-terminating proxy)',
    );
    expect(refusal).not.toContain('\n');
  });

  it('accepts hostnames inside, and anything without constraints', () => {
    expect(serverHostnamesRefusal(['certmint.example.internal', '10.1.2.3'], nc)).toBeUndefined();
    expect(serverHostnamesRefusal(['localhost'], undefined)).toBeUndefined();
    expect(serverHostnamesRefusal(['localhost'], { permitted: [], excluded: [] })).toBeUndefined();
  });
});

describe('nameConstraintsDrift', () => {
  it('is one line saying to rotate when the configured constraints differ from the active ones, in any direction', () => {
    expect(nameConstraintsDrift(nc, undefined)).toBe(
      "ca.nameConstraints (permitted: example.internal, 10.0.0.0/8; excluded: secret.example.internal) differ from the active intermediate's (none), " +
        'which bind issuance: run certmint ca rotate-intermediate to apply them, then restart certmint serve',
    );
    expect(nameConstraintsDrift({ permitted: [], excluded: [] }, nc)).toContain("(none) differ from the active intermediate's (permitted: example.internal");
  });

  it('under an external root, speaks only of constraints configured (certmint writes none there)', () => {
    expect(nameConstraintsDrift({ permitted: [], excluded: [] }, nc, true)).toBeUndefined();
    expect(nameConstraintsDrift(parseNameConstraints({ permitted: ['example.internal'] }), nc, true)).toContain(
      'under an external root they are written by its operator; ask for an intermediate carrying them (certmint ca csr and ca import in a new data dir)',
    );
  });

  it('is silent when they agree, in whatever order they are written', () => {
    expect(nameConstraintsDrift(parseNameConstraints({ permitted: ['10.0.0.0/8', '.example.internal'], excluded: ['secret.example.internal'] }), nc)).toBeUndefined();
    expect(nameConstraintsDrift({ permitted: [], excluded: [] }, undefined)).toBeUndefined();
  });
});

describe('configuredNameConstraints', () => {
  const config = (env: Record<string, string>) => loadConfig({ env, cwd: '/' });

  it('parses ca.nameConstraints from the config and its variables', () => {
    const parsed = configuredNameConstraints(config({ CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'example.internal, 10.0.0.0/8', CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: 'spiffe://cluster.local' }));
    expect(parsed).toEqual(parseNameConstraints({ permitted: ['example.internal', '10.0.0.0/8'], excluded: ['uri:cluster.local'] }));
    expect(configuredNameConstraints(config({}))).toEqual({ permitted: [], excluded: [] });
  });

  it.each([
    ['CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED', 'example.internal,10.0.0.0-10.0.0.255', 'ca.nameConstraints.permitted[1]: name constraint "10.0.0.0-10.0.0.255" is not an IP range in CIDR notation'],
    ['CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED', '*.example.internal', 'ca.nameConstraints.excluded[0]: name constraint "*.example.internal": a DNS constraint already covers every name under it'],
    ['CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED', '10.1.2.3/8', 'ca.nameConstraints.permitted[0]: name constraint "10.1.2.3/8": the address has bits set past the /8 prefix'],
    ['CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED', 'spiffe://cluster.local/ns/default', 'ca.nameConstraints.permitted[0]: name constraint "spiffe://cluster.local/ns/default": a URI constraint names a host only'],
  ])('refuses %s=%s with one line naming the key and the entry', (variable, value, message) => {
    const c = config({ [variable]: value });
    expect(() => configuredNameConstraints(c)).toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining(message) }));
    try {
      configuredNameConstraints(c);
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
});
