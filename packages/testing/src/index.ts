/**
 * Test helpers for Hookline users and store authors:
 * - `signedDelivery` / `signedRequest` build correctly signed webhooks for any scheme, to drive a receiver in
 *   your own tests (like Stripe's `generateTestHeaderString`).
 * - `runAdapterContract` checks a framework adapter on the real framework over real HTTP.
 * - `runStoreContract` / `runDeadLetterContract` check that an `IdempotencyStore` / `DeadLetterStore` keeps the
 *   guarantees a receiver relies on; `runDeliveryStoreContract` checks a sender's engine (`DeliveryStore`) and
 *   `runInboxContract` a receiver's inbox (`InboxStore`). The
 *   contracts run under vitest, jest or node:test: pass that runner's `describe` and `it`.
 *
 * @module
 */

export { type AdapterHarness, type AdapterServer, runAdapterContract } from "./adapter-contract";
export { type DeliveryContractOptions, runDeliveryStoreContract } from "./delivery-contract";
export { type InboxContractOptions, type InboxTransactionProbe, runInboxContract } from "./inbox-contract";
export { type SignedDelivery, type SignedDeliveryOptions, signedDelivery, signedRequest } from "./kit";
export { serviceUrl } from "./services";
export { type ContractRunner, runDeadLetterContract, runStoreContract } from "./store-contract";
