export { backendName as cryptoBackend } from "./backend";
export {
  errorStatus,
  HooklineError,
  type HooklineErrorCode,
  WebhookVerificationError,
  type WebhookVerificationErrorCode,
} from "./errors";
export type { HeaderReader, HeadersInput } from "./headers";
export { generateKeyPair, type WebhookKeyPair } from "./keys";
export * from "./schemes";
export type { SecretInput } from "./secrets";
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
