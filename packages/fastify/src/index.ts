/**
 * Fastify 5 plugin. It registers the webhook route in its own encapsulated context, whose only content-type
 * parser keeps the raw Buffer of every content type up to the receiver's `maxBodyBytes`, so the signature is
 * checked over the exact bytes while the app's JSON parsing elsewhere is untouched. Not wrapped in
 * `fastify-plugin`, on purpose: that would leak the parser to the whole app.
 *
 * @example
 * import Fastify from "fastify";
 * import { createReceiver } from "@hookline/core";
 * import { webhookPlugin } from "@hookline/fastify";
 *
 * const receiver = createReceiver({ secret: process.env.WEBHOOK_SECRET! })
 *   .on("invoice.paid", async (event) => markPaid(event.data));
 * const app = Fastify();
 * await app.register(webhookPlugin, { receiver, path: "/webhooks" });
 * await app.listen({ port: 3000 });
 *
 * @module
 */
import { type DeliveryResponse, HooklineError, type Receiver } from "@hookline/core";
import { toDeliveryInput } from "@hookline/core/node";
import type { FastifyError, FastifyPluginAsync, FastifyReply } from "fastify";

/** Options of {@link webhookPlugin}. */
export interface WebhookPluginOptions {
  /** The receiver from `createReceiver`; its `maxBodyBytes` is the route's body limit. */
  receiver: Pick<Receiver, "receive" | "maxBodyBytes">;
  /**
   * The webhook route, under the prefix the plugin is registered with. It answers every method: the receiver
   * gives anything but POST a 405.
   * @default "/webhooks"
   */
  path?: string;
}

function send(reply: FastifyReply, answer: DeliveryResponse): FastifyReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

/**
 * Registers the webhook route: `app.register(webhookPlugin, { receiver, path: "/webhooks" })`.
 *
 * @param app the encapsulated instance Fastify passes.
 * @param options see {@link WebhookPluginOptions}.
 */
export const webhookPlugin: FastifyPluginAsync<WebhookPluginOptions> = async (app, options) => {
  const { receiver, path = "/webhooks" } = options;
  // Inherited parsers (application/json, text/plain, any the app added) would win over "*": drop them here only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: receiver.maxBodyBytes }, (_request, body, done) =>
    done(null, body),
  );
  // Fastify refuses some requests before the route runs; the receiver still answers (and counts) them. A body cut
  // off at bodyLimit is a 413; a content type Fastify cannot parse (empty, `json`, `a/b/c`, `;;;`, non-ASCII) is
  // refused 415 before any parser reads the body, so the receiver reads the untouched stream itself.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      return send(reply, await receiver.receive(toDeliveryInput(request.raw)));
    }
    if (error.code !== "FST_ERR_CTP_BODY_TOO_LARGE") throw error;
    const tooLarge = new HooklineError("payload_too_large", `The body is over ${receiver.maxBodyBytes} bytes`);
    return send(reply, await receiver.receive(toDeliveryInput(request.raw, tooLarge)));
  });
  app.all(path, async (request, reply) =>
    send(reply, await receiver.receive(toDeliveryInput(request.raw, request.body as Buffer | undefined))),
  );
};
