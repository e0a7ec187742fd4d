export type { BodyInput } from "./body";
export {
  type AnyWebhookEvent,
  defineEvents,
  type EventCatalog,
  type EventData,
  type EventSchemas,
  type EventType,
  type UntypedCatalog,
  type ValidationIssue,
  type WebhookEvent,
} from "./events";
export {
  type MemoryDeadLettersOptions,
  type MemoryStoreOptions,
  memoryDeadLetters,
  memoryStore,
} from "./memory-store";
export {
  consoleLogger,
  createReceiver,
  type DeliveryInfo,
  type DeliveryInput,
  type DeliveryResponse,
  defaultEnvelope,
  type Envelope,
  type EnvelopeContext,
  type EnvelopeFields,
  type EventHandler,
  type HandlerContext,
  type Receiver,
  type ReceiverHooks,
  type ReceiverLogger,
  type ReceiverOptions,
  type ReplayResult,
} from "./receiver";
export type { RateLimiter, RateLimitOptions } from "./rate-limit";
export type { StandardSchemaV1 } from "./standard-schema";
export type { ReceiverStats } from "./stats";
export { type ClaimResult, claimToken, type DeadLetter, type DeadLetterStore, type IdempotencyStore } from "./store";
export {
  assertConnectionKnown,
  type ConnectionInfo,
  type ConnectionNeeds,
  type TransportOptions,
} from "./transport";
