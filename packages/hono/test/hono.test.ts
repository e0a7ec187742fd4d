import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createReceiver, type Receiver } from "@hookline/core";
import { runAdapterContract, signedRequest } from "@hookline/core/testing";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { webhookHandler } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const quiet = { info() {}, warn() {}, error() {} };

async function start(receiver: Receiver) {
  const app = new Hono().all("/webhooks", webhookHandler(receiver));
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        if ("closeAllConnections" in server) server.closeAllConnections();
      }),
  };
}

runAdapterContract("Hono on @hono/node-server", { start }, { describe, it });

describe("Hono without a Node server", () => {
  it("verifies a delivery through app.request, as on Workers, Bun and Deno", async () => {
    const seen: unknown[] = [];
    const receiver = createReceiver({ secret, logger: quiet }).on("order.created", (event) => {
      seen.push(event.data);
    });
    const app = new Hono().post("/webhooks", webhookHandler(receiver));
    const request = await signedRequest({
      secret,
      url: "http://localhost/webhooks",
      event: { type: "order.created", data: { id: "ord_1" } },
    });
    const response = await app.request(request);
    expect(response.status).toBe(200);
    expect(seen).toEqual([{ id: "ord_1" }]);
  });

  it("answers 500 raw_body_unavailable when a middleware read the body first", async () => {
    const receiver = createReceiver({ secret, logger: quiet }).on("order.created", () => {});
    const app = new Hono()
      .use(async (c, next) => {
        await c.req.json();
        await next();
      })
      .post("/webhooks", webhookHandler(receiver));
    const request = await signedRequest({ secret, event: { type: "order.created", data: {} } });
    const response = await app.request(request);
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: { code: "raw_body_unavailable" } });
  });
});
