import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLoggers, LazyChildLogger } from './lazy-child-logger.js';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}

describe('LazyChildLogger', () => {
  it('writes each line with every binding it was given, one pino child for all of them', () => {
    const { log, lines } = capture();
    const made: unknown[] = [];
    const parent = Object.assign(Object.create(log) as typeof log, {
      child: (...a: Parameters<typeof log.child>) => {
        made.push(a[0]);
        return log.child(...a);
      },
    });
    const request = new LazyChildLogger(parent, { reqId: 'req-1' }).child({ account: 'a1' }).child({ order: 'o1', account: 'a2' });
    expect(made).toEqual([]);
    request.debug('below the level: nothing written, nothing made');
    expect(made).toEqual([]);
    request.info({ serial: '01' }, 'certificate issued');
    request.warn('again');
    expect(made).toEqual([{ reqId: 'req-1', account: 'a2', order: 'o1' }]);
    expect(lines.map(({ reqId, account, order, serial, msg, level }) => ({ reqId, account, order, serial, msg, level }))).toEqual([
      { reqId: 'req-1', account: 'a2', order: 'o1', serial: '01', msg: 'certificate issued', level: 30 },
      { reqId: 'req-1', account: 'a2', order: 'o1', serial: undefined, msg: 'again', level: 40 },
    ]);
  });

  it('follows the parent level, and takes its own when set', () => {
    const { log, lines } = capture('warn');
    const request = new LazyChildLogger(log, { reqId: 'r' });
    expect(request.level).toBe('warn');
    request.info('not written');
    request.level = 'info';
    request.info('written');
    expect(lines.map((l) => l.msg)).toEqual(['written']);
  });

  it('is every request logger of a fastify instance given it as childLoggerFactory', async () => {
    const { log, lines } = capture();
    const app = Fastify({ loggerInstance: log, childLoggerFactory: lazyChildLoggers, disableRequestLogging: true });
    app.get('/x', async (request) => {
      expect(request.log).toBeInstanceOf(LazyChildLogger);
      request.log = request.log.child({ account: 'acct' });
      request.log.info('handled');
      return 'ok';
    });
    app.get('/quiet', async () => 'ok');
    expect((await app.inject('/x')).body).toBe('ok');
    expect((await app.inject('/quiet')).body).toBe('ok');
    await app.close();
    expect(lines.filter((l) => l.msg === 'handled').map(({ reqId, account }) => ({ reqId, account }))).toEqual([{ reqId: 'req-1', account: 'acct' }]);
  });
});
