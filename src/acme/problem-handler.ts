import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CaKeyUnavailableError } from '../ca/ca-key.js';
import type { Clock } from '../core/clock.js';
import { AcmeProblem } from '../core/problem.js';
import { ledgerStorageFailure, ledgerUnavailable } from '../ledger/storage-failure.js';
import { drainOversizedBody } from './oversized-body.js';
import { retryAfterHeader } from './retry-after.js';

/** Retry-After of a request refused while the ledger's database cannot be reached. */
const UNAVAILABLE_RETRY_SECONDS = 5;

/** How often a CA key outage that goes on is logged again by the requests it refuses. */
export const KEY_OUTAGE_LOG_INTERVAL_MS = 60_000;

/**
 * One warning line per CA key outage instead of one per refused request: the token's provider
 * already logs the loss and the reconnection, and a busy server refuses hundreds of finalizes a
 * second meanwhile. The first refusal is logged; after that one line per interval, with the count.
 */
export class KeyOutageLog {
  private lastLoggedAt: number | undefined;
  private suppressed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs = KEY_OUTAGE_LOG_INTERVAL_MS,
  ) {}

  /** The line to log for this refusal, or undefined when one was logged less than an interval ago. */
  line(error: CaKeyUnavailableError): string | undefined {
    const now = this.clock.now().getTime();
    if (this.lastLoggedAt !== undefined && now - this.lastLoggedAt < this.intervalMs) {
      this.suppressed++;
      return undefined;
    }
    const more = this.suppressed > 0 ? ` (${this.suppressed} more requests refused for it since the last line)` : '';
    this.lastLoggedAt = now;
    this.suppressed = 0;
    return `the CA key is unavailable: ${error.message}${more}`;
  }
}

/** fastify's own errors (body parsing, limits, content type) as the ACME problems they are. */
function fromFastifyError(e: FastifyError): AcmeProblem | undefined {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return e.statusCode === 415 || e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? new AcmeProblem('malformed', 'ACME requests must have Content-Type: application/jose+json', { status: 415 })
        : new AcmeProblem('malformed', e.message, { status: 400 });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AcmeProblem('malformed', 'the request body is too large', { status: 413 });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AcmeProblem('malformed', 'the request body is not valid JSON');
    default:
      if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
        return new AcmeProblem('malformed', e.message, { status: e.statusCode });
      }
      return undefined;
  }
}

/** The one place problem documents are written (RFC 7807 as RFC 8555 §6.7 uses it). */
export function sendProblem(reply: FastifyReply, problem: AcmeProblem): FastifyReply {
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .header('content-type', 'application/problem+json')
    .send(Buffer.from(JSON.stringify(problem.toDocument())));
}

/** The error handler of the routes that sign: refusals for an unavailable CA key logged through `outages`. */
export function signingProblemHandler(outages: KeyOutageLog) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined =>
    problemErrorHandler(error, request, reply, outages);
}

export function problemErrorHandler(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
  outages?: KeyOutageLog,
): FastifyReply | undefined {
  if ((error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // Read the rest of the body (within a bound) so that a client still writing it can read the
    // answer; fastify has set Connection: close, so a connection drains at most once.
    const problem = fromFastifyError(error as FastifyError)!;
    // HTTP/2 has no Connection header (RFC 9113 §8.2.2; Node drops it with a process warning): the
    // stream ends with the answer, and the client's other streams go on.
    if (request.raw.httpVersionMajor === 2) reply.removeHeader('connection');
    void drainOversizedBody(request.raw).then(() => {
      // The body's own bound (server.bodyTimeout) may have answered 408 meanwhile.
      if (!reply.sent) sendProblem(reply, problem);
    });
    return undefined;
  }
  let problem: AcmeProblem | undefined =
    error instanceof AcmeProblem ? error : error instanceof CaKeyUnavailableError ? undefined : fromFastifyError(error as FastifyError);
  const unavailable = problem || error instanceof CaKeyUnavailableError ? undefined : ledgerUnavailable(error);
  const storage = problem || unavailable ? undefined : ledgerStorageFailure(error);
  if (error instanceof CaKeyUnavailableError) {
    // Expected while a token reconnects, and as frequent as finalizes: no stack, and one line per
    // outage interval, not per request. The use case changed nothing (finalize gave its order
    // back, revocation committed nothing).
    const line = outages ? outages.line(error) : `the CA key is unavailable: ${error.message}`;
    if (line !== undefined) request.log.warn(line);
    problem = new AcmeProblem('serverInternal', `the CA key is unavailable (${error.message}); nothing was changed, retry this request later`, {
      status: 503,
      headers: retryAfterHeader(error.retryAfterSeconds),
    });
  } else if (unavailable) {
    // Expected while the database restarts, and as frequent as requests: one line, no stack.
    request.log.warn({ err: (error as Error).message }, `the ledger cannot be reached: ${unavailable}`);
    problem = new AcmeProblem('serverInternal', `the server cannot serve this request now: ${unavailable}; retry in a few seconds`, {
      status: 503,
      headers: { 'Retry-After': String(UNAVAILABLE_RETRY_SECONDS) },
    });
  } else if (storage) {
    // The client learns why, not where: no path, no SQLite code (those are in the log line).
    request.log.error({ err: error }, `the ledger cannot store this request: ${storage}`);
    problem = new AcmeProblem('serverInternal', `the server cannot store this request: ${storage}; retry later`);
  } else if (!problem) {
    request.log.error({ err: error }, 'unexpected error');
    problem = new AcmeProblem('serverInternal', 'the server hit an internal error; retry later');
  } else if (problem.status >= 500 && ledgerUnavailable(problem.cause)) {
    // A use case's own serverInternal (finalize's "create a new order") for a ledger that went away.
    request.log.warn({ err: (problem.cause as Error).message }, `${problem.detail}: the ledger cannot be reached`);
    problem = new AcmeProblem(problem.type, problem.detail, { status: 503, headers: { ...problem.headers, 'Retry-After': String(UNAVAILABLE_RETRY_SECONDS) } });
  } else if (problem.status >= 500) {
    request.log.error({ err: problem.cause ?? problem }, problem.detail);
  }
  return sendProblem(reply, problem);
}
