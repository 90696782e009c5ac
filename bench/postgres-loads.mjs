// The PostgreSQL setups of bench/run.mjs (issue 12): one certmint on a throw-away PostgreSQL, and
// two instances on one database behind haproxy. `ctx` is run.mjs's: { settings, runLoads,
// freshCertmint, certmintCpu, workDir, dns }.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startHaproxy } from './haproxy.mjs';
import { cpuMsOf, freePort, memoryOf } from './processes.mjs';

/** One certmint on PostgreSQL (database certmint_pg1). */
export async function postgresLoads({ settings, runLoads, freshCertmint, certmintCpu, dns }, cluster) {
  const ledger = { url: await cluster.createDatabase('certmint_pg1'), poolSize: settings.pgPoolSize };
  const server = await freshCertmint('pg-1', dns, { ledger });
  try {
    const loads = await runLoads('certmint-pg', { ...server, sample: async () => ({ ...certmintCpu([server.pid]), postgres_cpu_ms: cluster.cpuMs() }) });
    return { loads, rssAfterLoadsMb: memoryOf(server.pid).rssMb };
  } finally {
    await server.stop();
  }
}

/**
 * Two certmint instances on one PostgreSQL database (certmint_pg2) behind haproxy, as issue 12
 * deploys them: both name the balancer's URL, the client trusts the CA's root and talks to haproxy only.
 */
export async function balancedLoads({ settings, runLoads, freshCertmint, certmintCpu, workDir, dns }, cluster) {
  const ledger = { url: await cluster.createDatabase('certmint_pg2'), poolSize: settings.pgPoolSize };
  const lbPort = await freePort();
  const baseUrl = `https://localhost:${lbPort}`;
  const ports = [await freePort(), await freePort()];
  const first = await freshCertmint('pg-2a', dns, { ledger, baseUrl, port: ports[0] });
  const instances = [first];
  try {
    instances.push(await freshCertmint('pg-2b', dns, { ledger, baseUrl, port: ports[1], copyCaFrom: first.dataDir }));
    // haproxy presents instance 1's own server certificate (written by serve to <dataDir>/tls).
    const lb = await startHaproxy({
      dir: path.join(workDir, 'pg-2a'),
      port: lbPort,
      backends: ports.map((port, i) => ({ name: `certmint-${i + 1}`, port })),
      certPem: readFileSync(path.join(first.dataDir, 'tls', 'server.pem'), 'utf8'),
      keyPem: readFileSync(path.join(first.dataDir, 'tls', 'server.key.pem'), 'utf8'),
      caFile: first.caBundle,
    });
    try {
      const sample = async () => {
        const stats = await lb.serverStats();
        return {
          ...certmintCpu(instances.map((i) => i.pid)),
          certmint_1_cpu_ms: cpuMsOf(instances[0].pid),
          certmint_2_cpu_ms: cpuMsOf(instances[1].pid),
          postgres_cpu_ms: cluster.cpuMs(),
          haproxy_cpu_ms: cpuMsOf(lb.pid),
          responses_certmint_1: stats['certmint-1'].responses,
          responses_certmint_2: stats['certmint-2'].responses,
        };
      };
      const loads = await runLoads('certmint-pg-2', { directoryUrl: first.directoryUrl, caBundle: first.caBundle, sample });
      return { loads, rssAfterLoadsMb: instances.map((i) => memoryOf(i.pid).rssMb) };
    } finally {
      await lb.stop();
    }
  } finally {
    for (const i of instances) await i.stop();
  }
}

