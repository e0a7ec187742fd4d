/**
 * Express adapter (Express 4 and 5). The handler streams the raw body into the receiver through the core Node
 * bridge, so the route needs no body parser, and an app-wide `express.json()` elsewhere is fine as long as it
 * runs after this route or keeps the raw bytes (`req.rawBody`). A body a parser consumed without keeping them
 * gets 500 `raw_body_unavailable` at once, naming both fixes.
 *
 * @example
 * import express from "express";
 * import { createReceiver } from "@hookline/core";
 * import { webhookHandler } from "@hookline/express";
 *
 * const receiver = createReceiver({ secret: process.env.WEBHOOK_SECRET! })
 *   .on("invoice.paid", async (event) => markPaid(event.data));
 * const app = express();
 * app.post("/webhooks", webhookHandler(receiver)); // before any app-wide express.json()
 * app.use(express.json());
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Receiver } from "@hookline/core";
import { sendDeliveryResponse, toDeliveryInput } from "@hookline/core/node";

/** Options of {@link webhookHandler}. */
export interface WebhookHandlerOptions {
  /**
   * Where a body parser that ran before the handler kept the raw bytes, for apps that keep them elsewhere than
   * `req.rawBody`. Return `undefined` to read the request stream.
   * @default `req.rawBody` when it is a Buffer or string, else `req.body` when it is a Buffer (`express.raw()`)
   */
  rawBody?: (request: IncomingMessage) => Uint8Array | string | undefined;
}

/**
 * An Express request handler. Typed on Node's own request and response, so it fits Express 4 and 5 (and
 * `@types/express` 4 and 5) alike.
 */
export type WebhookRequestHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * An Express handler for the webhook route: `app.post("/webhooks", webhookHandler(receiver))`. Mount it with
 * `app.all` instead to answer 405 (rather than Express's 404) to other methods.
 *
 * @param receiver from `createReceiver`.
 * @param options see {@link WebhookHandlerOptions}.
 * @example
 * app.post("/webhooks", webhookHandler(receiver, { rawBody: (req) => (req as { buf?: Buffer }).buf }));
 */
export function webhookHandler(
  receiver: Pick<Receiver, "receive">,
  options: WebhookHandlerOptions = {},
): WebhookRequestHandler {
  return (request, response, next) => {
    receiver
      .receive(toDeliveryInput(request, options.rawBody?.(request)))
      .then((answer) => sendDeliveryResponse(request, response, answer))
      // Express 4 ignores a rejected promise: hand any failure (such as headers already sent) to `next`.
      .catch(next);
  };
}
