/**
 * Hono adapter. The handler passes the untouched Fetch `Request` (`c.req.raw`) to the receiver, which streams
 * its body up to `maxBodyBytes`, so it runs wherever Hono does: Node (`@hono/node-server`), Bun, Deno and
 * Cloudflare Workers.
 *
 * @example
 * import { Hono } from "hono";
 * import { createReceiver } from "@hookline/core";
 * import { webhookHandler } from "@hookline/hono";
 *
 * const receiver = createReceiver({ secret: process.env.WEBHOOK_SECRET! })
 *   .on("invoice.paid", async (event) => markPaid(event.data));
 * const app = new Hono();
 * app.post("/webhooks", webhookHandler(receiver));
 * export default app;
 *
 * @module
 */
import type { Receiver } from "@hookline/core";
import type { Context } from "hono";

/**
 * A Hono handler for the webhook route: `app.post("/webhooks", webhookHandler(receiver))`. Mount it with
 * `app.all` instead to answer 405 (rather than Hono's 404) to other methods. No middleware before it may read
 * the body (`c.req.json()`, a JSON validator): the receiver needs the raw bytes, and answers 500
 * `raw_body_unavailable` if they are gone.
 *
 * @param receiver from `createReceiver`.
 */
export function webhookHandler(receiver: Pick<Receiver, "handle">): (c: Context) => Promise<Response> {
  return (c) => receiver.handle(c.req.raw);
}
