import { once } from "node:events";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { createReceiver, type Receiver, type ReceiverOptions } from "@hookline/core";
import { runAdapterContract, signedDelivery, signedRequest } from "@hookline/testing";
import { Hono } from "hono";
import { getConnInfo as workersConnInfo } from "hono/cloudflare-workers";
import { describe, expect, it } from "vitest";
import { type WebhookHandlerOptions, webhookHandler } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const quiet = { info() {}, warn() {}, error() {} };

async function start(receiver: Receiver, options: WebhookHandlerOptions = {}) {
  const app = new Hono().all("/webhooks", webhookHandler(receiver, options));
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

runAdapterContract("Hono on @hono/node-server", { start: (receiver) => start(receiver) }, { describe, it });

/** A signed POST over node:http to `target`, which may be absolute-form (what a proxy is sent). */
async function deliver(port: number, target: string) {
  const { headers, body } = await signedDelivery({ secret, event: { type: "order.created", data: {} } });
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const outgoing = httpRequest({ host: "127.0.0.1", port, path: target, method: "POST", headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

async function serveWith(options: Partial<ReceiverOptions>, handlerOptions: WebhookHandlerOptions = {}) {
  const receiver = createReceiver({ secret, logger: quiet, ...options }).on("order.created", () => {});
  const server = await start(receiver, handlerOptions);
  return { ...server, port: Number(new URL(server.url).port) };
}

describe("Hono on @hono/node-server: the connection, not the client's URL", () => {
  it("refuses a plain-HTTP delivery whose absolute-form target says https (requireHttps)", async () => {
    const server = await serveWith({ requireHttps: true });
    try {
      const answer = await deliver(server.port, `https://127.0.0.1:${server.port}/webhooks`);
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "https_required" } });
    } finally {
      await server.close();
    }
  });

  it("gives allowIps the peer's address through getConnInfo", async () => {
    for (const [allowIps, status] of [
      [["127.0.0.0/8"], 200],
      [["192.0.2.0/24"], 403],
    ] as const) {
      const server = await serveWith({ allowIps }, { getConnInfo });
      try {
        expect((await deliver(server.port, "/webhooks")).status).toBe(status);
      } finally {
        await server.close();
      }
    }
  });

  it("fails at start-up when allowIps or rateLimit needs an address and there is no getConnInfo", () => {
    const receiver = createReceiver({ secret, allowIps: ["127.0.0.1"] });
    expect(() => webhookHandler(receiver)).toThrow(/peer's address, which Hono without the getConnInfo option/);
    expect(() => webhookHandler(createReceiver({ secret, allowIps: ["127.0.0.1"], trustProxy: true }))).not.toThrow();
  });
});

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

  it("gives allowIps the address Cloudflare's getConnInfo reads, as on Workers (URL scheme from the runtime)", async () => {
    const receiver = createReceiver({ secret, logger: quiet, allowIps: ["192.0.2.0/24"], requireHttps: true });
    const app = new Hono().post(
      "/webhooks",
      webhookHandler(
        receiver.on("order.created", () => {}),
        { getConnInfo: workersConnInfo },
      ),
    );
    const from = async (address: string) => {
      const request = await signedRequest({
        secret,
        url: "https://hooks.example/webhooks",
        event: { type: "order.created", data: {} },
        headers: { "cf-connecting-ip": address },
      });
      return (await app.request(request)).status;
    };
    expect(await from("192.0.2.10")).toBe(200);
    expect(await from("203.0.113.9")).toBe(403);
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
