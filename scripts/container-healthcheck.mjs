#!/usr/bin/env node
// The container image's HEALTHCHECK: `node scripts/container-healthcheck.mjs [/health|/ready]`.
// The slim Node image has no curl or wget, and a probe must not skip certificate checks: it reads
// the same configuration as `certmint serve` (CERTMINT_CONFIG + CERTMINT_* variables), connects to
// the port the server listens on, and trusts only the roots in <dataDir>/ca. The host name is not
// checked: the probe connects to the loopback address, which server.tls.hostnames need not list.
// Exit 0 when the path answers 200, 1 otherwise (Docker reads nothing else).
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { loadConfig } from '../dist/config/config.js';

const TIMEOUT_MS = 4_000;

/**
 * Where a wildcard listen address is reached from inside the container. "[::]" listens on IPv4
 * too, and Docker disables IPv6 (no ::1) in containers on networks without it: use 127.0.0.1.
 */
function probeHost(host) {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

/** root.pem and every later root generation (root-<n>.pem; after ca rotate-root the server may use either). */
function trustedRoots(dataDir) {
  const dir = path.join(dataDir, 'ca');
  return readdirSync(dir)
    .filter((name) => /^root(-[0-9]+)?\.pem$/.test(name))
    .map((name) => readFileSync(path.join(dir, name), 'utf8'));
}

function probe(probePath) {
  const config = loadConfig();
  const { host, port, tls } = config.server;
  const options = { host: probeHost(host), port, path: probePath, agent: false, timeout: TIMEOUT_MS };
  const request = tls.enabled
    ? httpsRequest.bind(null, { ...options, ca: trustedRoots(config.dataDir), checkServerIdentity: () => undefined })
    : httpRequest.bind(null, options);
  return new Promise((resolve, reject) => {
    const req = request((res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${probePath} answered ${res.statusCode}`))));
    });
    req.once('timeout', () => req.destroy(new Error(`${probePath} did not answer within ${TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end();
  });
}

const probePath = process.argv[2] ?? '/health';
probe(probePath).then(
  () => process.exit(0),
  (err) => {
    console.error(`certmint healthcheck: ${err.message}`);
    process.exit(1);
  },
);
