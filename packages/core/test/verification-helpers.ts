import { expect } from "vitest";
import {
  HooklineError,
  type HooklineErrorCode,
  WebhookVerificationError,
  type WebhookVerificationErrorCode,
} from "../src";

/** The Standard Webhooks reference vector (libraries/javascript/src/webhook.test.ts upstream). */
export const vector = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
} as const;

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Awaits a promise that must reject, and returns the rejection. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** Asserts a `WebhookVerificationError` with this code, and returns it for further checks. */
export async function expectVerificationError(
  promise: Promise<unknown>,
  code: WebhookVerificationErrorCode,
): Promise<WebhookVerificationError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(WebhookVerificationError);
  expect(error).toMatchObject({ code });
  return error as WebhookVerificationError;
}

/** Asserts a `HooklineError` (any subclass) with this code; for options and setup mistakes. */
export async function expectHooklineError(promise: Promise<unknown>, code: HooklineErrorCode): Promise<HooklineError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(HooklineError);
  expect(error).toMatchObject({ code });
  return error as HooklineError;
}

/** Same headers with every name upper-cased, as some proxies and hand-written records have them. */
export const upperCaseNames = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
