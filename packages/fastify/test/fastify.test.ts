import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { createReceiver, type Receiver } from "@hookline/core";
import { runAdapterContract, signedDelivery } from "@hookline/testing";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { webhookPlugin } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const quiet = { info() {}, warn() {}, error() {} };

/** An app with its own JSON route beside the plugin, as most apps have. */
async function start(receiver: Receiver, register = { path: "/webhooks" } as { path?: string; prefix?: string }) {
  const app = Fastify();
  app.post("/orders", async (request) => ({ parsed: request.body }));
  await app.register(webhookPlugin, { receiver, ...register });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/webhooks`, close: () => app.close() };
}

runAdapterContract("Fastify", { start }, { describe, it });

describe("Fastify beside the app's own routes", () => {
  it("leaves the app's JSON parsing and body limit alone", async () => {
    const server = await start(createReceiver({ secret, logger: quiet }));
    try {
      // 100 KiB: over the webhook route's 64 KiB limit, well under Fastify's own 1 MiB.
      const order = { id: "ord_1", note: "x".repeat(100 * 1024) };
      const response = await fetch(`${server.origin}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(order),
        signal: AbortSignal.timeout(2_000),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ parsed: order });
    } finally {
      await server.close();
    }
  });

  it("serves the default path under the prefix it is registered with", async () => {
    const receiver = createReceiver({ secret, logger: quiet }).on("order.created", () => {});
    const server = await start(receiver, { prefix: "/hooks" });
    try {
      const { headers, body } = await signedDelivery({ secret, event: { type: "order.created", data: {} } });
      const response = await fetch(`${server.origin}/hooks/webhooks`, {
        method: "POST",
        headers,
        body: body as string,
        signal: AbortSignal.timeout(2_000),
      });
      expect(response.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("has the receiver count the 413 that Fastify's body limit raised", async () => {
    const receiver = createReceiver({ secret, logger: quiet, maxBodyBytes: 1024 });
    const server = await start(receiver);
    try {
      const { headers } = await signedDelivery({ secret, event: { type: "order.created", data: {} } });
      // A stream has no Content-Length, so Fastify reads up to its limit and the receiver never sees the header.
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array(4096).fill(0x20));
          controller.close();
        },
      });
      const response = await fetch(server.url, {
        method: "POST",
        headers,
        body,
        duplex: "half",
        signal: AbortSignal.timeout(2_000),
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({
        error: { code: "payload_too_large", message: "The body is over 1024 bytes" },
      });
      expect(receiver.stats().counts.payload_too_large).toBe(1);
    } finally {
      await server.close();
    }
  });
});

/** A POST over node:http, which sends header values Fetch would refuse (non-ASCII, empty). */
function postRaw(url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const outgoing = httpRequest(url, { method: "POST", headers, timeout: 2_000 }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

describe("Fastify and content types it cannot parse", () => {
  it("hands every content type to the receiver: counted, seen by hooks, verified", async () => {
    const contentTypes = ["", "json", "a/b/c", ";;;", "application/j\u00f6son", "text/plain; charset", "*/*"];
    const received: string[] = [];
    const receiver = createReceiver({
      secret,
      logger: quiet,
      hooks: { onReceived: ({ method }) => received.push(method) },
    }).on("order.created", () => {});
    const server = await start(receiver);
    try {
      for (const contentType of contentTypes) {
        const { headers, body } = await signedDelivery({ secret, event: { type: "order.created", data: {} } });
        const answer = await postRaw(server.url, { ...headers, "content-type": contentType }, body as string);
        expect({ contentType, ...answer }).toEqual({ contentType, status: 200, body: '{"received":true}' });
      }
      expect(receiver.stats().counts.received).toBe(contentTypes.length);
      expect(received).toHaveLength(contentTypes.length);
      expect(receiver.stats().processed).toBe(contentTypes.length);
    } finally {
      await server.close();
    }
  });
});
