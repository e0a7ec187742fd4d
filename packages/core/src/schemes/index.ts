export { github } from "./github";
export { type HmacSchemeOptions, hmac } from "./hmac";
export { type StandardWebhooksOptions, standardWebhooks } from "./standard-webhooks";
export { stripe } from "./stripe";
export type { SchemeSignInput, SchemeVerified, SchemeVerifyInput, WebhookScheme } from "./types";
