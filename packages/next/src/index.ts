/**
 * Next.js adapter. `webhookHandler` is an App Router route handler (Fetch `Request` in, `Response` out) and runs
 * on both the Node.js and the Edge runtime. `pagesWebhookHandler` is a Pages Router API route that streams the raw
 * body through the core Node bridge, so the page must turn Next's body parser off.
 *
 * @example
 * // app/api/webhooks/route.ts
 * import { webhookHandler } from "@hookline/next";
 * export const POST = webhookHandler(receiver);
 *
 * @example
 * // pages/api/webhooks.ts: Next reads `config` from the page's own source, so write it out literally there
 * import { pagesWebhookHandler } from "@hookline/next";
 * export const config = { api: { bodyParser: false } };
 * export default pagesWebhookHandler(receiver);
 *
 * @module
 */
import { assertConnectionKnown, HooklineError, type Receiver } from "@hookline/core";
import { sendDeliveryResponse, toDeliveryInput } from "@hookline/core/node";
import type { NextApiRequest, NextApiResponse, PageConfig } from "next";

/**
 * An App Router route handler: `export const POST = webhookHandler(receiver)` in `route.ts`. It only calls
 * `receiver.handle`, so it runs on the Node.js and the Edge runtime alike (and in an Edge Pages API route).
 * A route handler never sees the connection (Next 15 removed `request.ip`, and `request.url` is built from the
 * client's target), so `requireHttps`, `allowIps` and `rateLimit` need `trustProxy`, with the proxy (or Vercel)
 * setting `x-forwarded-proto` and `x-forwarded-for`.
 *
 * @throws HooklineError `invalid_option` when the receiver needs a connection fact and `trustProxy` is not set.
 */
export function webhookHandler(
  receiver: Pick<Receiver, "handle" | "connectionNeeds">,
): (request: Request) => Promise<Response> {
  assertConnectionKnown(receiver.connectionNeeds, { secure: false, remoteAddress: false }, "the Next.js App Router");
  // `secure: false`: only a trusted proxy's x-forwarded-proto may vouch for TLS, never the client-built URL.
  return (request) => receiver.handle(request, { secure: false });
}

/**
 * The page config a Pages Router webhook route needs: Next's body parser off, so that the raw bytes reach the
 * signature check. Next parses `config` out of the page's own source at build time and fails the build on
 * `export const config = pagesConfig` ("It needs to be a static object") and on
 * `export { pagesConfig as config }` ("It mustn't be reexported"), so each page writes the literal itself:
 * `export const config = { api: { bodyParser: false } };`. This value is for custom servers and tests.
 */
export const pagesConfig = { api: { bodyParser: false } } as const satisfies PageConfig;

// The core's own message names Express's fixes; on Next the fix is the page's config.
const BODY_PARSER_ON = new HooklineError(
  "raw_body_unavailable",
  "Next.js parsed the body before Hookline could verify its raw bytes, and a parsed body cannot be verified: add " +
    "`export const config = { api: { bodyParser: false } };` to this API route's file",
);

/**
 * A Pages Router API route: `export default pagesWebhookHandler(receiver)` in `pages/api/….ts`, next to
 * `export const config = { api: { bodyParser: false } };`. If the body parser was left on, every delivery gets a
 * 500 `raw_body_unavailable` naming that fix (a parsed body cannot be verified, and re-serializing it would not
 * give back the signed bytes). A raw body kept by a custom server's parser (`req.rawBody`) is verified as is.
 */
export function pagesWebhookHandler(
  receiver: Pick<Receiver, "receive">,
): (request: NextApiRequest, response: NextApiResponse) => Promise<void> {
  return async (request, response) => {
    const input = toDeliveryInput(request);
    if (input.body instanceof HooklineError) input.body = BODY_PARSER_ON;
    sendDeliveryResponse(request, response, await receiver.receive(input));
  };
}
