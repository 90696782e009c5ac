import type { AccountRecord } from '../ledger/records.js';
import { newAccount, updateAccount, type NewAccountRequest } from './accounts.js';
import { getAuthorization, getChallenge, respondToChallenge } from './authorizations.js';
import { certificateChainPem } from './certificates.js';
import type { RaDeps } from './deps.js';
import { finalizeOrder } from './finalize.js';
import { getOrder, newOrder } from './orders.js';

type Payload = Readonly<Record<string, unknown>> | undefined;

/**
 * The use cases, bound to their dependencies. The HTTP API and the admin CLI both call these,
 * so a rule lives in one place whichever door a request came through.
 */
export class RegistrationAuthority {
  constructor(readonly deps: RaDeps) {}

  newAccount(req: NewAccountRequest) {
    return newAccount(this.deps, req);
  }
  getAccount(id: string) {
    return this.deps.ledger.getAccount(id);
  }
  updateAccount(account: AccountRecord, payload: Payload) {
    return updateAccount(this.deps, account, payload);
  }
  newOrder(account: AccountRecord, payload: Payload) {
    return newOrder(this.deps, account, payload);
  }
  getOrder(account: AccountRecord, orderId: string) {
    return getOrder(this.deps, account, orderId);
  }
  finalizeOrder(account: AccountRecord, orderId: string, payload: Payload) {
    return finalizeOrder(this.deps, account, orderId, payload);
  }
  getAuthorization(account: AccountRecord, id: string) {
    return getAuthorization(this.deps, account, id);
  }
  getChallenge(account: AccountRecord, id: string) {
    return getChallenge(this.deps, account, id);
  }
  respondToChallenge(account: AccountRecord, id: string) {
    return respondToChallenge(this.deps, account, id);
  }
  certificateChainPem(account: AccountRecord, serial: string) {
    return certificateChainPem(this.deps, account, serial);
  }
}
