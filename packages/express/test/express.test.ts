import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { createReceiver, type WebhookEvent } from "@hookline/core";
import { runAdapterContract, signedDelivery } from "@hookline/testing";
import express5, { type Express } from "express";
import express4 from "express4";
import { describe, expect, it } from "vitest";
import { webhookHandler } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const quiet = { info() {}, warn() {}, error() {} };
// Spacing and `1.50` that any re-serialization would change.
const payload = '{ "type" : "order.created", "data" : { "total": 1.50 } }';

async function listen(app: Express) {
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Serves `mount(app, handler)` on a fresh app, sends one signed delivery, and returns the answer. */
async function deliver(
  express: typeof express5,
  mount: (app: Express, handler: ReturnType<typeof webhookHandler>) => void,
  options: { contentType?: string; handler?: Parameters<typeof webhookHandler>[1] } = {},
) {
  const seen: { event: WebhookEvent; payload: string }[] = [];
  const receiver = createReceiver({ secret, logger: quiet }).on("order.created", (event, context) => {
    seen.push({ event, payload: context.payload });
  });
  const app = express();
  mount(app, webhookHandler(receiver, options.handler));
  const server = await listen(app);
  try {
    const { headers, body } = await signedDelivery({
      secret,
      payload,
      headers: { "content-type": options.contentType ?? "application/json" },
    });
    const started = performance.now();
    const response = await fetch(server.url, {
      method: "POST",
      headers,
      body: body as string,
      signal: AbortSignal.timeout(2_000),
    });
    return { status: response.status, body: await response.json(), ms: performance.now() - started, seen };
  } finally {
    await server.close();
  }
}

const keepRawBody = (request: IncomingMessage, _response: unknown, buffer: Buffer) => {
  (request as IncomingMessage & { rawBody?: Buffer }).rawBody = buffer;
};

for (const [version, express] of [
  ["Express 5", express5],
  ["Express 4", express4],
] as const) {
  runAdapterContract(
    version,
    { start: (receiver) => listen(express().all("/webhooks", webhookHandler(receiver))) },
    { describe, it },
  );

  describe(`${version} beside body parsers`, () => {
    it("answers 500 raw_body_unavailable at once, naming both fixes, when express.json() ran first", async () => {
      const answer = await deliver(express, (app, handler) => app.use(express.json()).post("/webhooks", handler));
      expect(answer).toMatchObject({ status: 500, body: { error: { code: "raw_body_unavailable" } } });
      expect(answer.body.error.message).toContain("Mount the webhook handler before the body parser");
      expect(answer.body.error.message).toContain("express.json({ verify: (req, res, buf) => { req.rawBody = buf } })");
      expect(answer.ms).toBeLessThan(2_000);
      expect(answer.seen).toHaveLength(0);
    });

    it("verifies the raw body that express.json({ verify }) kept as req.rawBody", async () => {
      const answer = await deliver(express, (app, handler) =>
        app.use(express.json({ verify: keepRawBody })).post("/webhooks", handler),
      );
      expect(answer).toMatchObject({ status: 200, body: { received: true } });
      expect(answer.seen.map((seen) => seen.payload)).toEqual([payload]);
    });

    it("verifies the Buffer that express.raw() left as req.body", async () => {
      const answer = await deliver(express, (app, handler) =>
        app.post("/webhooks", express.raw({ type: "*/*" }), handler),
      );
      expect(answer).toMatchObject({ status: 200, body: { received: true } });
      expect(answer.seen.map((seen) => seen.payload)).toEqual([payload]);
    });

    it("reads the stream when an app-wide express.json() left the content type alone", async () => {
      const answer = await deliver(express, (app, handler) => app.use(express.json()).post("/webhooks", handler), {
        contentType: "text/plain",
      });
      expect(answer).toMatchObject({ status: 200, body: { received: true } });
    });

    it("takes the raw body from where the rawBody option says", async () => {
      const keepAsBuf = (request: IncomingMessage, _response: unknown, buffer: Buffer) => {
        (request as IncomingMessage & { buf?: Buffer }).buf = buffer;
      };
      const answer = await deliver(
        express,
        (app, handler) => app.use(express.json({ verify: keepAsBuf })).post("/webhooks", handler),
        { handler: { rawBody: (request) => (request as IncomingMessage & { buf?: Buffer }).buf } },
      );
      expect(answer).toMatchObject({ status: 200, body: { received: true } });
    });
  });
}
