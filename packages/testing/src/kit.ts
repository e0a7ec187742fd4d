import { type Payload, type SignOptions, sign } from "@hookline/core";

/** Options of {@link signedDelivery}: `sign`'s options, with an event to serialize instead of a payload. */
export type SignedDeliveryOptions = Omit<SignOptions, "payload"> &
  (
    | { payload: Payload; event?: never }
    | {
        /** Serialized as `{ id, type, timestamp, data }` (the Standard Webhooks envelope, with the id). */
        event: { type: string; data: unknown };
        payload?: never;
      }
  ) & {
    /** Extra headers to send, such as `content-type` or `x-github-event`. */
    headers?: Record<string, string>;
  };

/** A signed delivery: the exact body and the headers to send with it. */
export interface SignedDelivery {
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/**
 * Signs a webhook the way a real sender would.
 *
 * @example
 * const { headers, body } = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: "in_1" } } });
 */
export async function signedDelivery(options: SignedDeliveryOptions): Promise<SignedDelivery> {
  const { event, headers: extra, payload, ...signOptions } = options;
  const timestamp = options.timestamp ?? new Date();
  const id = options.id ?? `msg_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const seconds = timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : timestamp;
  const body =
    event === undefined
      ? payload instanceof ArrayBuffer
        ? new Uint8Array(payload)
        : (payload as string | Uint8Array)
      : JSON.stringify({ id, type: event.type, timestamp: new Date(seconds * 1000).toISOString(), data: event.data });
  const signature = await sign({ ...signOptions, id, timestamp, payload: body });
  return { headers: { "content-type": "application/json", ...extra, ...signature }, body };
}

/**
 * A signed Fetch `Request`, ready for `receiver.handle` or `fetch`.
 * @param url @default "http://localhost/webhooks"
 */
export async function signedRequest(options: SignedDeliveryOptions & { url?: string }): Promise<Request> {
  const { headers, body } = await signedDelivery(options);
  return new Request(options.url ?? "http://localhost/webhooks", {
    method: "POST",
    headers,
    body: body as BodyInit,
  });
}
