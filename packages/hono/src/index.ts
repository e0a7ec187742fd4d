/**
 * Hono adapter. The handler passes the untouched Fetch `Request` (`c.req.raw`) to the receiver, which streams
 * its body up to `maxBodyBytes`, so it runs wherever Hono does: Node (`@hono/node-server`), Bun, Deno and
 * Cloudflare Workers. On `@hono/node-server` it hands over the Node request itself, as the Express and Fastify
 * adapters do, so that no Fetch `Request` and web stream are built for a body that is read once.
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
import type { IncomingMessage } from "node:http";
import { assertConnectionKnown, type Receiver } from "@hookline/core";
import { toDeliveryInput } from "@hookline/core/node";
import type { Context } from "hono";

/** Options of {@link webhookHandler}. */
export interface WebhookHandlerOptions {
  /**
   * The runtime's connection-info helper, for the peer's address (`allowIps`, `rateLimit`): `getConnInfo` from
   * `@hono/node-server/conninfo`, `hono/bun`, `hono/deno` or `hono/cloudflare-workers` (which reads Cloudflare's
   * own `cf-connecting-ip`).
   * @default undefined (no peer address: a receiver with `allowIps` or `rateLimit`, and no `trustProxy`, is
   * refused at start-up)
   */
  getConnInfo?: (c: Context) => { remote: { address?: string | undefined } };
}

/** What `@hono/node-server` puts in `c.env`: the Node request. */
interface NodeBindings {
  incoming?: IncomingMessage;
}

/**
 * A Hono handler for the webhook route: `app.post("/webhooks", webhookHandler(receiver))`. Mount it with
 * `app.all` instead to answer 405 (rather than Hono's 404) to other methods. No middleware before it may read
 * the body (`c.req.json()`, a JSON validator): the receiver needs the raw bytes, and answers 500
 * `raw_body_unavailable` if they are gone. On `@hono/node-server` the socket says whether the connection is TLS
 * (the request URL there is built from the client's target); on Workers, Deno and Bun the runtime writes the
 * URL's scheme itself.
 *
 * @param receiver from `createReceiver`.
 * @param options see {@link WebhookHandlerOptions}.
 * @throws HooklineError `invalid_option` when the receiver needs the peer's address and no `getConnInfo` is given.
 * @example
 * import { getConnInfo } from "@hono/node-server/conninfo";
 * app.post("/webhooks", webhookHandler(receiver, { getConnInfo }));
 */
export function webhookHandler(
  receiver: Pick<Receiver, "handle" | "receive" | "connectionNeeds">,
  options: WebhookHandlerOptions = {},
): (c: Context) => Promise<Response> {
  const { getConnInfo } = options;
  assertConnectionKnown(
    receiver.connectionNeeds,
    { secure: true, remoteAddress: getConnInfo !== undefined },
    "Hono without the getConnInfo option",
  );
  return async (c) => {
    const remoteAddress = getConnInfo?.(c).remote.address;
    const incoming = (c.env as NodeBindings | undefined)?.incoming;
    // Once anything read the Node request (a middleware's c.req.json()), the Fetch Request says so best.
    if (!incoming || incoming.readableDidRead || incoming.readableEnded) {
      return receiver.handle(c.req.raw, {
        secure: incoming?.socket ? (incoming.socket as { encrypted?: boolean }).encrypted === true : undefined,
        remoteAddress,
      });
    }
    const answer = await receiver.receive({ ...toDeliveryInput(incoming), remoteAddress });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  };
}
