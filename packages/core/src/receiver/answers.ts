import { errorStatus, type HooklineErrorCode } from "../errors";
import type { ValidationIssue } from "./events";
import type { DeliveryInfo, DeliveryResponse } from "./types";

/**
 * Why a step of the pipeline refuses a delivery: the code (its status comes from `errorStatus`), what the
 * caller is told, and what hooks and logs learn about the delivery.
 */
export interface Refusal {
  refused: HooklineErrorCode;
  /** The message in the answer. @default the code's standard message */
  message?: string | undefined;
  /** What the server's log says beyond the message (diagnostics about our own secrets); never in the answer. */
  detail?: string | undefined;
  info?: DeliveryInfo | undefined;
  issues?: ValidationIssue[] | undefined;
  retryAfterMs?: number | undefined;
}

export function refusal(code: HooklineErrorCode, message?: string, extra: Omit<Refusal, "refused" | "message"> = {}) {
  return { refused: code, message, ...extra } satisfies Refusal;
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof (value as Refusal | null)?.refused === "string";
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): DeliveryResponse => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

const errorMessages: Partial<Record<HooklineErrorCode, string>> = {
  method_not_allowed: "Webhooks are delivered with POST",
  https_required: "Webhooks must be delivered over HTTPS",
  ip_not_allowed: "This address may not deliver webhooks here",
  malformed_request: "The Host header or the request target is malformed",
  rate_limited: "Too many deliveries from this address; retry later",
  too_many_failures: "Too many failed verifications from this address; retry later",
  in_flight: "This message is being processed; retry later",
  store_unavailable: "The idempotency store is unavailable; retry later",
  inbox_unavailable: "The event could not be stored; retry later",
  handler_failed: "The event could not be processed; retry later",
};

/** The answer for a refusal: status from the code, `Allow`, `Retry-After` and `Connection` where they apply. */
export function errorAnswer({ refused: code, message, issues, retryAfterMs }: Refusal): DeliveryResponse {
  const headers: Record<string, string> = {};
  if (code === "method_not_allowed") headers.allow = "POST";
  if (code === "payload_too_large") headers.connection = "close";
  if (retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  const error: Record<string, unknown> = { code, message: message ?? errorMessages[code] ?? code };
  if (issues) error.issues = issues;
  return json(errorStatus[code], { error }, headers);
}
