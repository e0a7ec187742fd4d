export { backendName as cryptoBackend } from "./backend";
export { type Diagnosis, diagnose } from "./diagnose";
export { settleAfterRollback } from "./engine/after-rollback";
export { type ClaimLoop, type ClaimLoopOptions, claimLoop } from "./engine/claim-loop";
export { type MemoryDeliveries, type MemoryDeliveriesOptions, memoryDeliveries } from "./engine/memory";
export { type MemoryInbox, type MemoryInboxOptions, memoryInbox } from "./engine/memory-inbox";
export { rotatedSecrets } from "./engine/rotation";
export type {
  Attempt,
  AttemptOutcome,
  Delivery,
  DeliveryFilter,
  DeliveryJob,
  DeliveryStatus,
  DeliveryStore,
  Endpoint,
  EndpointPatch,
  EndpointSecret,
  InboxEvent,
  InboxJob,
  InboxRecord,
  InboxSettlement,
  InboxStatus,
  InboxStore,
  InboxWorkOptions,
  Lease,
  Message,
  Page,
  Processor,
  RequeueFilter,
  Settlement,
  Worker,
  WorkOptions,
} from "./engine/types";
export {
  errorStatus,
  HooklineError,
  type HooklineErrorCode,
  type ReceiverErrorCode,
  type SenderErrorCode,
  WebhookVerificationError,
  type WebhookVerificationErrorCode,
} from "./errors";
export type { HeaderReader, HeadersInput } from "./headers";
export {
  type JSONSchema,
  type JSONSchemaOptions,
  type OpenAPIOptions,
  toJSONSchema,
  toOpenAPI,
} from "./json-schema";
export { generateKeyPair, type WebhookKeyPair } from "./keys";
export * from "./receiver";
export {
  type ClassifyDeliveryOptions,
  classifyDelivery,
  type DeliveryOutcome,
  type DeliveryResult,
  type ExponentialBackoffOptions,
  exponentialBackoff,
  type FixedScheduleOptions,
  fixedSchedule,
  type Jitter,
  nextDelay,
  type RetrySchedule,
  retrySchedules,
} from "./retry";
export * from "./schemes";
export type { SecretInput } from "./secrets";
export * from "./sender";
export { DEFAULT_TOLERANCE_SECONDS, type Tolerance } from "./tolerance";
export {
  type GenerateSecretOptions,
  generateMessageId,
  generateSecret,
  type Payload,
  type SignOptions,
  sign,
  type VerifiedWebhook,
  type VerifyOptions,
  verify,
} from "./webhook";
