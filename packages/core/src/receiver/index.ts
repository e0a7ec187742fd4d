export type { BodyInput } from "./body";
export { defaultEnvelope } from "./event";
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
export { consoleLogger } from "./log";
export {
  type MemoryDeadLettersOptions,
  type MemoryStoreOptions,
  memoryDeadLetters,
  memoryStore,
} from "./memory-store";
export type { RateLimiter, RateLimitOptions } from "./rate-limit";
export { createReceiver } from "./receiver";
export type { StandardSchemaV1 } from "./standard-schema";
export type { ReceiverStats } from "./stats";
export { type ClaimResult, claimToken, type DeadLetter, type DeadLetterStore, type IdempotencyStore } from "./store";
export {
  assertConnectionKnown,
  type ConnectionInfo,
  type ConnectionNeeds,
  type TransportOptions,
} from "./transport";
export type {
  DeliveryInfo,
  DeliveryInput,
  DeliveryResponse,
  DeliveryTelemetry,
  Envelope,
  EnvelopeContext,
  EnvelopeFields,
  EventHandler,
  HandlerContext,
  InboxWorkerOptions,
  ReceiveOutcome,
  ReceiveRecord,
  Receiver,
  ReceiverHooks,
  ReceiverLogger,
  ReceiverOptions,
  ReceiverTelemetry,
  ReplayResult,
} from "./types";
