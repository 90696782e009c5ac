import type { FastifyReply } from 'fastify';
import type { AuthorizationStatus, ChallengeStatus, OrderStatus } from '../core/status.js';

/**
 * How long a client polling a challenge, authorization or order still in progress is asked to
 * wait. Validation (bounded by validation.answerWithin before the POST is answered) and issuance
 * take well under a second here; without the header clients wait their own default, up to 10 s.
 */
export const POLL_RETRY_AFTER_SECONDS = 1;

/**
 * Retry-After on the answer for a resource that will change without the client doing anything
 * more (RFC 8555 §7.5.1: clients poll authorizations and orders; §8.2: the server says when to
 * retry a challenge): pending and processing challenges, pending authorizations, pending and
 * processing orders. Final states get none, and neither does a `ready` order: it waits for the
 * client to finalize (§7.4), not for time to pass, and a client told to wait would only finalize
 * later. Boulder also sends it for processing orders only, never for ready ones.
 */
export function retryAfterWhileInProgress(reply: FastifyReply, status: ChallengeStatus | AuthorizationStatus | OrderStatus): FastifyReply {
  return status === 'pending' || status === 'processing' ? reply.header('Retry-After', String(POLL_RETRY_AFTER_SECONDS)) : reply;
}

/**
 * Retry-After of a 503 (RFC 9110 §10.2.3: whole seconds): when a condition that passes by itself
 * (a CA key's token reconnecting) has its next chance. Never 0, which clients read as "at once".
 */
export function retryAfterHeader(seconds: number): { readonly 'Retry-After': string } {
  return { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
}
