import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, LevelWithSilentOrString, Logger } from 'pino';

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * A request's logger that becomes a pino child only when it writes a line. fastify makes a child
 * (the request id bound) for every request, and the ACME routes add the account and the order as
 * they learn them: three pino children per request, ~0.3 ms of the event loop per issuance under
 * load (issue 27's profile, "logging"), for lines that are almost never written (request logging is
 * off: a request logs when something goes wrong or a certificate is issued). Here the bindings are
 * only collected; the first line at an enabled level makes one pino child with all of them (later
 * ones win a key, as pino's output would show last), and every later line goes straight to it.
 */
export class LazyChildLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  static {
    // On the prototype: a request's logger is two fields, not six closures.
    for (const level of LEVELS) {
      LazyChildLogger.prototype[level] = function (this: LazyChildLogger, ...args: Parameters<Logger['info']>) {
        if ((this.made ?? this.parent).isLevelEnabled(level)) this.logger()[level](...args);
      } as Logger[Level];
    }
  }

  declare fatal: Logger['fatal'];
  declare error: Logger['error'];
  declare warn: Logger['warn'];
  declare info: Logger['info'];
  declare debug: Logger['debug'];
  declare trace: Logger['trace'];
  silent(): void {}

  get level(): LevelWithSilentOrString {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.logger().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    // Options (a route's own level, serializers) change how lines are written: pino's child then.
    if (this.made || (options && Object.keys(options).length > 0)) return this.logger().child(bindings, options) as FastifyBaseLogger;
    return new LazyChildLogger(this.parent, { ...this.bindings, ...bindings }) as unknown as FastifyBaseLogger;
  }

  private logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings));
  }
}

/** fastify's childLoggerFactory: request loggers that cost nothing until they write. */
export function lazyChildLoggers(this: unknown, logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (Object.keys(options).length > 0) return logger.child(bindings, options);
  if (logger instanceof LazyChildLogger) return logger.child(bindings);
  return new LazyChildLogger(logger as Logger, bindings) as unknown as FastifyBaseLogger;
}
