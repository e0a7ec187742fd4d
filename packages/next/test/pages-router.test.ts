import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createReceiver } from "@hookline/core";
import { signedDelivery } from "@hookline/testing";
import type { NextApiRequest, NextApiResponse } from "next";
// Next's own Pages API resolver (internal): reads the page's `config` and runs Next's body parser, as `next start`.
import { apiResolver } from "next/dist/server/api-utils/node/api-resolver.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pagesConfig, pagesWebhookHandler } from "../src/index";

const secret = "whsec_bmV4dC1wYWdlcy1yb3V0ZXItdGVzdC1zZWNyZXQ=";
const silent = { info() {}, warn() {}, error() {} };

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

async function listen(listener: Listener): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    Promise.resolve(listener(req, res)).catch((error: unknown) => res.writeHead(599).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks`, server };
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

async function post(url: string, delivery: { headers: Record<string, string>; body: string | Uint8Array }) {
  const response = await fetch(url, { method: "POST", headers: delivery.headers, body: delivery.body as BodyInit });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function setup(options: { maxBodyBytes?: number } = {}) {
  const seen: unknown[] = [];
  const receiver = createReceiver({ secret, logger: silent, ...options }).on("invoice.paid", (event) => {
    seen.push(event.data);
  });
  return { handler: pagesWebhookHandler(receiver), seen };
}

const asNext = (handler: ReturnType<typeof pagesWebhookHandler>): Listener => {
  return (req, res) => handler(req as NextApiRequest, res as NextApiResponse);
};

describe("pagesWebhookHandler on a Node http server (bodyParser: false)", () => {
  let url: string;
  let server: Server;
  let seen: unknown[];

  beforeAll(async () => {
    const app = setup({ maxBodyBytes: 1024 });
    seen = app.seen;
    ({ url, server } = await listen(asNext(app.handler)));
  });
  afterAll(() => close(server));

  it("verifies the raw streamed bytes and runs the handler", async () => {
    const payload = '{"type":"invoice.paid",  "data":{"id":"in_ü"}}\n';
    expect(await post(url, await signedDelivery({ secret, payload }))).toEqual({
      status: 200,
      body: { received: true },
    });
    expect(seen).toContainEqual({ id: "in_ü" });
  });

  it("answers the duplicate 200 duplicate and a tampered copy 401", async () => {
    const delivery = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: "in_2" } } });
    expect((await post(url, delivery)).status).toBe(200);
    expect(await post(url, delivery)).toEqual({ status: 200, body: { received: true, duplicate: true } });
    const tampered = await post(url, { ...delivery, body: `${delivery.body} ` });
    expect(tampered.status).toBe(401);
    expect(tampered.body).toMatchObject({ error: { code: "no_matching_signature" } });
    expect(seen.filter((data) => (data as { id: string }).id === "in_2")).toHaveLength(1);
  });

  it("answers a body over maxBodyBytes 413", async () => {
    const payload = JSON.stringify({ type: "invoice.paid", data: { pad: "x".repeat(4096) } });
    expect((await post(url, await signedDelivery({ secret, payload }))).status).toBe(413);
  });

  it("answers GET 405", async () => {
    const response = await fetch(url);
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });
});

describe("pagesWebhookHandler with the body parser left on", () => {
  it("answers 500 raw_body_unavailable naming the fix, and runs nothing", async () => {
    const { handler, seen } = setup();
    // Next's parser: read the stream to the end, then set `req.body` to the parsed JSON.
    const { url, server } = await listen(async (req, res) => {
      let text = "";
      for await (const chunk of req) text += chunk;
      Object.assign(req, { body: JSON.parse(text) });
      await handler(req as NextApiRequest, res as NextApiResponse);
    });
    try {
      const answer = await post(url, await signedDelivery({ secret, event: { type: "invoice.paid", data: {} } }));
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({
        error: { code: "raw_body_unavailable", message: expect.stringContaining("bodyParser: false") },
      });
      expect(answer.body.error).toMatchObject({
        message: expect.stringContaining("export const config = { api: { bodyParser: false } };"),
      });
      expect(seen).toEqual([]);
    } finally {
      await close(server);
    }
  });

  it("verifies the raw body a custom server's parser kept as `req.rawBody`", async () => {
    const { handler, seen } = setup();
    const { url, server } = await listen(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const rawBody = Buffer.concat(chunks);
      Object.assign(req, { rawBody, body: JSON.parse(rawBody.toString("utf8")) });
      await handler(req as NextApiRequest, res as NextApiResponse);
    });
    try {
      const payload = '{"type":"invoice.paid", "data":{"id":"in_raw"}}';
      expect((await post(url, await signedDelivery({ secret, payload }))).status).toBe(200);
      expect(seen).toEqual([{ id: "in_raw" }]);
    } finally {
      await close(server);
    }
  });
});

describe("pagesWebhookHandler under Next's own API resolver", () => {
  const preview = { previewModeId: "", previewModeEncryptionKey: "", previewModeSigningKey: "", dev: false };

  async function page(config: unknown) {
    const { handler, seen } = setup();
    const module = { default: handler, config };
    const served = await listen((req, res) => apiResolver(req, res, {}, module, preview, false));
    return { ...served, seen };
  }

  it("with `config = { api: { bodyParser: false } }` verifies and runs the handler", async () => {
    const { url, server, seen } = await page(pagesConfig);
    try {
      const delivery = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: "in_next" } } });
      expect(await post(url, delivery)).toEqual({ status: 200, body: { received: true } });
      expect(seen).toEqual([{ id: "in_next" }]);
    } finally {
      await close(server);
    }
  });

  it("without the config (body parser on) answers 500 raw_body_unavailable", async () => {
    const { url, server, seen } = await page(undefined);
    try {
      const delivery = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: "in_next" } } });
      const answer = await post(url, delivery);
      expect(answer.status).toBe(500);
      expect(answer.body).toMatchObject({ error: { code: "raw_body_unavailable" } });
      expect(seen).toEqual([]);
    } finally {
      await close(server);
    }
  });
});
