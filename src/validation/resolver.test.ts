import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChallTestSrv, type ChallTestSrv } from '../../test/support/challtestsrv.js';
import { requireOrSkip } from '../../test/support/clients.js';
import { startFaultyDnsServer, startNxdomainDnsServer, startSilentDnsServer } from '../../test/support/dns-responders.js';
import { AcmeProblem } from '../core/problem.js';
import { createResolver } from './resolver.js';

const available = requireOrSkip('pebble-challtestsrv', 'apt-get install pebble');

async function dnsProblem(promise: Promise<unknown>): Promise<AcmeProblem> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AcmeProblem);
  const problem = err as AcmeProblem;
  expect(problem.type).toBe('dns');
  return problem;
}

describe.skipIf(!available)('createResolver with DNS servers (pebble-challtestsrv)', () => {
  let srv: ChallTestSrv;

  beforeAll(async () => {
    // No default answer: a name resolves only when a test gives it records.
    srv = await startChallTestSrv({ defaultIPv4: '', defaultIPv6: '' });
    await srv.addA('ok.resolver.test', '127.0.0.1');
    await srv.addA('dual.resolver.test', ['127.0.0.1', '127.0.0.2']);
    await srv.addAAAA('dual.resolver.test', '::1');
    await srv.addAAAA('v6only.resolver.test', '::1');
    await srv.setCname('alias.resolver.test', 'ok.resolver.test');
    await srv.setServfail('servfail.resolver.test');
    await srv.addA('short.corp.resolver.test', '127.0.0.3');
    await srv.setServfail('broken.corp.resolver.test');
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('answers A records', async () => {
    const resolver = createResolver([srv.dnsAddress], 2000);
    expect(await resolver.resolve('ok.resolver.test')).toEqual(['127.0.0.1']);
  });

  it('puts IPv4 before IPv6', async () => {
    const resolver = createResolver([srv.dnsAddress], 2000);
    expect(await resolver.resolve('dual.resolver.test')).toEqual(['127.0.0.1', '127.0.0.2', '::1']);
    expect(await resolver.resolve('v6only.resolver.test')).toEqual(['::1']);
  });

  it('follows a CNAME', async () => {
    const resolver = createResolver([srv.dnsAddress], 2000);
    expect(await resolver.resolve('alias.resolver.test')).toEqual(['127.0.0.1']);
  });

  it('returns an IP literal as is, without asking DNS', async () => {
    const resolver = createResolver(['127.0.0.1:1'], 2000);
    expect(await resolver.resolve('192.0.2.7')).toEqual(['192.0.2.7']);
    expect(await resolver.resolve('::1')).toEqual(['::1']);
  });

  it('reports a name without addresses as a dns problem naming it', async () => {
    const resolver = createResolver([srv.dnsAddress], 2000);
    const problem = await dnsProblem(resolver.resolve('nothing.resolver.test'));
    expect(problem.detail).toBe('DNS problem: NODATA, no A or AAAA records found for nothing.resolver.test');
  });

  it('without configured resolvers, tries resolv.conf\'s search list as getaddrinfo does', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-search-'));
    try {
      const resolvConf = path.join(dir, 'resolv.conf');
      writeFileSync(resolvConf, 'search corp.resolver.test\noptions ndots:2\n');
      const resolver = createResolver([], 2000, { resolvConf, hostsFile: path.join(dir, 'no-hosts'), nameservers: [srv.dnsAddress] });
      // One dot, fewer than ndots: short.corp.resolver.test is tried (and found) first.
      expect(await resolver.resolve('short')).toEqual(['127.0.0.3']);
      // Enough dots: the name itself.
      expect(await resolver.resolve('ok.resolver.test')).toEqual(['127.0.0.1']);
      // Nowhere: the problem names the name asked for.
      const absent = await dnsProblem(resolver.resolve('nothing.resolver.test'));
      expect(absent.detail).toBe('DNS problem: NODATA, no A or AAAA records found for nothing.resolver.test');
      // A failure that is not "no such name" ends the search.
      const broken = await dnsProblem(resolver.resolve('broken'));
      expect(broken.detail).toBe('DNS problem: SERVFAIL looking up A for broken.corp.resolver.test');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports SERVFAIL', async () => {
    const resolver = createResolver([srv.dnsAddress], 2000);
    const problem = await dnsProblem(resolver.resolve('servfail.resolver.test'));
    expect(problem.detail).toBe('DNS problem: SERVFAIL looking up A for servfail.resolver.test');
  });
});

describe('createResolver with DNS servers (hand-made responders)', () => {
  it('reports NXDOMAIN', async () => {
    const server = await startNxdomainDnsServer();
    try {
      const resolver = createResolver([server.address], 2000);
      const problem = await dnsProblem(resolver.resolve('foo.test'));
      expect(problem.detail).toBe('DNS problem: NXDOMAIN looking up A for foo.test');
    } finally {
      await server.stop();
    }
  });

  it('gives up after timeoutMs when the server never answers', async () => {
    const server = await startSilentDnsServer();
    try {
      const resolver = createResolver([server.address], 300);
      const started = Date.now();
      const problem = await dnsProblem(resolver.resolve('slow.test'));
      expect(Date.now() - started).toBeLessThan(1500);
      expect(problem.detail).toBe('DNS problem: query timed out looking up A for slow.test');
    } finally {
      await server.stop();
    }
  });

  it('stops when the caller aborts', async () => {
    const server = await startSilentDnsServer();
    try {
      const resolver = createResolver([server.address], 10_000);
      const controller = new AbortController();
      const pending = resolver.resolve('aborted.test', controller.signal);
      controller.abort();
      const problem = await dnsProblem(pending);
      expect(problem.detail).toBe('DNS problem: query timed out looking up A for aborted.test');
    } finally {
      await server.stop();
    }
  });

  it('reports a refused connection when nothing listens on the DNS port', async () => {
    // On loopback an unanswered UDP port replies with ICMP port unreachable at once.
    const resolver = createResolver(['127.0.0.1:1'], 2000);
    const problem = await dnsProblem(resolver.resolve('refused.test'));
    // Says whose side the fault is on: the applicant's zone is fine, the CA cannot reach its resolver.
    expect(problem.detail).toBe("DNS problem: the CA's DNS resolver is unreachable (connection refused) looking up A for refused.test");
  });

  it('an aborted lookup leaves a lookup running beside it alone, on a channel kept from an earlier one', async () => {
    const server = await startFaultyDnsServer({ silentSuffix: '.silent.test', slowSuffix: '.slow.test', slowMs: 300 });
    try {
      const resolver = createResolver([server.address], 5000);
      // Done, so its channel is idle and the next lookup gets it.
      expect(await resolver.resolve('earlier.test')).toEqual(['127.0.0.1']);
      const answered = resolver.resolve('answered.slow.test');
      const controller = new AbortController();
      const aborted = resolver.resolve('aborted.silent.test', controller.signal);
      await Promise.all([server.askedFor('answered.slow.test'), server.askedFor('aborted.silent.test')]);
      controller.abort();
      const problem = await dnsProblem(aborted);
      expect(problem.detail).toBe('DNS problem: query timed out looking up A for aborted.silent.test');
      // Had both lookups shared a channel, the abort's cancel() would have ended this one too.
      expect(await answered).toEqual(['127.0.0.1']);
      expect(await resolver.resolve('after.test')).toEqual(['127.0.0.1']);
    } finally {
      await server.stop();
    }
  });

  it('sends each lookup from a new source port although channels are kept (spoofed answers must guess it)', async () => {
    const server = await startFaultyDnsServer({ silentSuffix: '.silent.test', slowSuffix: '.slow.test', slowMs: 0 });
    try {
      const resolver = createResolver([server.address], 2000);
      const names = ['one.test', 'two.test', 'three.test', 'four.test'];
      for (const name of names) expect(await resolver.resolve(name)).toEqual(['127.0.0.1']);
      await expect(resolver.resolveTxt('five.test', undefined, { absentAsEmpty: true })).resolves.toEqual([]);
      const ports = [...names, 'five.test'].map((name) => [...(server.sourcePorts.get(name) ?? [])]);
      // One socket per lookup (its A and AAAA share it), none shared between lookups.
      for (const p of ports) expect(p).toHaveLength(1);
      expect(new Set(ports.flat()).size).toBe(ports.length);
    } finally {
      await server.stop();
    }
  });

  it('caches no answer on a kept channel: a record changed since the last lookup is seen at once, whatever its TTL', async () => {
    // Answers A with 127.0.0.<n> for its n-th A query, with a TTL of an hour; NODATA for the rest.
    const socket = createSocket('udp4');
    let aQueries = 0;
    socket.on('message', (query, from) => {
      let end = 12;
      while (end < query.length && query[end] !== 0) end += (query[end] ?? 0) + 1;
      end += 5;
      const header = Buffer.from(query.subarray(0, end));
      header[2] = 0x80 | ((query[2] ?? 0) & 0x79);
      header[3] = 0x80;
      header.writeUInt16BE(1, 4);
      header.fill(0, 6, 12);
      if (query.readUInt16BE(end - 4) !== 1) return void socket.send(header, from.port, from.address);
      header.writeUInt16BE(1, 6);
      const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 127, 0, 0, ++aQueries]);
      socket.send(Buffer.concat([header, answer]), from.port, from.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const resolver = createResolver([`127.0.0.1:${socket.address().port}`], 2000);
      expect(await resolver.resolve('changing.test')).toEqual(['127.0.0.1']);
      expect(await resolver.resolve('changing.test')).toEqual(['127.0.0.2']);
    } finally {
      socket.close();
    }
  });

  it('accepts IPv6 server addresses and rejects malformed ones at construction', () => {
    expect(() => createResolver(['[::1]:53', '127.0.0.1:5353'], 1000)).not.toThrow();
    expect(() => createResolver(['not an address'], 1000)).toThrow();
  });
});

describe('createResolver with the system resolver', () => {
  it('answers names from the hosts file it is given, IPv4 first, and nothing else from it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-resolver-'));
    try {
      const hostsFile = path.join(dir, 'hosts');
      writeFileSync(hostsFile, '# an operator\'s names\nfd00::7 build.resolver.test\n10.0.0.7 build.resolver.test ci.resolver.test\n');
      const resolver = createResolver([], 2000, { hostsFile });
      expect(await resolver.resolve('build.resolver.test')).toEqual(['10.0.0.7', 'fd00::7']);
      expect(await resolver.resolve('CI.resolver.test')).toEqual(['10.0.0.7']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers from the hosts file while every thread of the thread pool is busy (no getaddrinfo)', async () => {
    // Opening a FIFO for reading blocks its thread until a writer comes: more of them than the
    // pool has threads (UV_THREADPOOL_SIZE, 4 by default) hold every one, as hanging
    // getaddrinfo calls did (issue 20), without using any CPU.
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-pool-'));
    const fifos = Array.from({ length: 8 }, (_, i) => path.join(dir, `fifo-${i}`));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    const held = fifos.map((fifo) => open(fifo, 'r'));
    try {
      // The pool is held: getaddrinfo (dns.lookup) would wait for a thread.
      const control = lookup('localhost').then(() => 'answered');
      expect(await Promise.race([control, delay(300, 'waiting')])).toBe('waiting');
      const resolver = createResolver([], 2000);
      // Through the pool it could not answer before every thread is freed below, so the abort
      // would end it; no clock is needed to tell the two apart.
      const addresses = await resolver.resolve('localhost', AbortSignal.timeout(2000));
      expect(addresses[0]).toBe('127.0.0.1');
    } finally {
      // A writer for each lets every blocked open return; then everything is closed.
      // (O_RDWR on a FIFO opens at once, reader or not.)
      const writers = fifos.map((fifo) => openSync(fifo, 'r+'));
      for (const handle of await Promise.all(held)) await handle.close();
      for (const fd of writers) closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves localhost through /etc/hosts, IPv4 first', async () => {
    const resolver = createResolver([], 2000);
    const addresses = await resolver.resolve('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses[0]).toBe('127.0.0.1');
  });

  it('reports an unknown name as a dns problem naming it', async () => {
    const resolver = createResolver([], 2000);
    const problem = await dnsProblem(resolver.resolve('certmint-missing.invalid'));
    expect(problem.detail).toContain('certmint-missing.invalid');
  });
});
