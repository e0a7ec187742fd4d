export {
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
  SenderEndpoints,
} from "./endpoints";
export {
  type AttemptInfo,
  createSender,
  type DrainOptions,
  type EventInput,
  type ReplayOptions,
  type Sender,
  type SenderHooks,
  type SenderLogger,
  type SenderOptions,
  type SenderStats,
  type SendOptions,
  type SendResult,
} from "./sender";
export type { RetryAfterPolicy } from "./settle";
