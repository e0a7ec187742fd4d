export {
  type AttemptErrorKind,
  type AttemptResult,
  createDeliveryAgent,
  type DeliverOptions,
  type DeliveryAgent,
  type DeliveryAgentOptions,
  type DeliveryLookup,
  deliver,
  deliveryGuard,
} from "./deliver";
export type {
  EndpointInput,
  EndpointUpdate,
  RotateSecretOptions,
  SecretKind,
  SenderEndpoints,
} from "./endpoints";
export { createSender } from "./sender";
export type { RetryAfterPolicy } from "./settle";
export type {
  AttemptInfo,
  AttemptStart,
  AttemptTelemetry,
  DrainOptions,
  EventInput,
  ReplayOptions,
  Sender,
  SenderHooks,
  SenderLogger,
  SenderOptions,
  SenderStats,
  SenderTelemetry,
  SendOptions,
  SendResult,
} from "./types";
