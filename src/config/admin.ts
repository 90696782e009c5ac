import type { Config } from './config-types.js';
import type { ConfigInput } from './schema.js';

/** admin.*: a listener of its own must not be server.listen's (the ACME listener would not start). */
export function resolveAdmin(
  a: ConfigInput['admin'],
  server: { readonly host: string; readonly port: number; readonly tls: boolean },
  parseListen: (key: string, value: string) => { host: string; port: number },
  fail: (message: string) => never,
): Config['admin'] {
  const text = a.listen.trim();
  const listen = text === '' ? undefined : parseListen('admin.listen', text);
  if (listen && listen.port === server.port && listen.host === server.host) {
    fail(`admin.listen "${text}" is server.listen's address: leave admin.listen empty to serve the admin API there, or give it a port of its own`);
  }
  // Client certificates are asked for on a listener of the admin API's own: the ACME listener must
  // not ask ACME clients for one, and without TLS there is no handshake to ask in.
  if (a.clientCertificates && !listen) {
    fail('admin.clientCertificates needs admin.listen: client certificates are asked for on the admin API\'s own listener, never on the ACME listener');
  }
  if (a.clientCertificates && !server.tls) fail('admin.clientCertificates needs server.tls.enabled: the admin listener serves plain HTTP without it');
  return { enabled: a.enabled, listen, clientCertificates: a.clientCertificates };
}
