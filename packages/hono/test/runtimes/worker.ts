// The Hono adapter on workerd: bundled as Wrangler bundles (conditions workerd, worker, browser) by workerd.mjs.
import { createReceiver, cryptoBackend, defineEvents, github, hmac, stripe, verify } from "@hookline/core";
import { webhookHandler } from "@hookline/hono";
import { Hono } from "hono";
import { z } from "zod";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const events = defineEvents({ "invoice.paid": z.object({ id: z.string(), amount: z.number().int() }) });
const handled: string[] = [];
const receiver = createReceiver({ secret, events }).on("invoice.paid", (event) => {
  handled.push(event.data.id);
});
const schemes = { stripe: stripe(), github: github(), hmac: hmac({ header: "x-signature" }) } as const;

const app = new Hono();
app.post("/webhooks", webhookHandler(receiver));
app.get("/report", (c) => c.json({ cryptoBackend, handled }));
// Verifies a delivery signed by the test with one of the schemes and the secret it names.
app.post("/verify/:scheme", async (c) => {
  const name = c.req.param("scheme");
  const scheme = name === "standard" ? undefined : schemes[name as keyof typeof schemes];
  try {
    const result = await verify({
      scheme,
      secret: c.req.header("x-test-secret") ?? secret,
      payload: new Uint8Array(await c.req.arrayBuffer()),
      headers: c.req.raw.headers,
    });
    return c.json({ ok: true, id: result.id ?? null });
  } catch (error) {
    return c.json({ ok: false, code: (error as { code?: string }).code }, 401);
  }
});
export default app;
