import { createReceiver, type ReceiverOptions } from "@hookline/core";
import { signedDelivery, signedRequest } from "@hookline/testing";
import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { webhookHandler } from "../src/index";

const secret = "whsec_bmV4dC1hcHAtcm91dGVyLXRlc3Qtc2VjcmV0";
const event = { type: "invoice.paid", data: { id: "in_1" } };

function setup() {
  const seen: unknown[] = [];
  const receiver = createReceiver({ secret, logger: { info() {}, warn() {}, error() {} } }).on(
    "invoice.paid",
    (delivered) => {
      seen.push(delivered.data);
    },
  );
  return { POST: webhookHandler(receiver), seen };
}

describe("webhookHandler with Fetch Requests", () => {
  it("answers a signed event 200 and runs its handler", async () => {
    const { POST, seen } = setup();
    const response = await POST(await signedRequest({ secret, event }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
    expect(seen).toEqual([{ id: "in_1" }]);
  });

  it("takes the NextRequest that Next passes to route handlers", async () => {
    const { POST } = setup();
    const response = await POST(new NextRequest(await signedRequest({ secret, event })));
    expect(response.status).toBe(200);
  });

  it("answers a repeated delivery 200 duplicate without running the handler again", async () => {
    const { POST, seen } = setup();
    const { headers, body } = await signedDelivery({ secret, event });
    const send = () =>
      POST(new Request("http://localhost/api/webhooks", { method: "POST", headers, body: body as BodyInit }));
    await send();
    const again = await send();
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    expect(seen).toHaveLength(1);
  });

  it("answers a tampered body 401 and runs nothing", async () => {
    const { POST, seen } = setup();
    const { headers, body } = await signedDelivery({ secret, event });
    const response = await POST(new Request("http://localhost/", { method: "POST", headers, body: `${body} ` }));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "no_matching_signature" } });
    expect(seen).toEqual([]);
  });

  it("answers 500 raw_body_unavailable when something read the body first", async () => {
    const { POST, seen } = setup();
    const request = await signedRequest({ secret, event });
    await request.json();
    const response = await POST(request);
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: { code: "raw_body_unavailable" } });
    expect(seen).toEqual([]);
  });

  it("answers another method 405 with Allow: POST", async () => {
    const { POST } = setup();
    const response = await POST(new Request("http://localhost/api/webhooks"));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });
});

// Through a real HTTP server, with the Node plumbing `next start` wraps App Router routes in: contract.test.ts.

describe("webhookHandler and the connection it cannot see", () => {
  const make = (options: Partial<ReceiverOptions>) =>
    createReceiver({ secret, logger: { info() {}, warn() {}, error() {} }, ...options }).on("invoice.paid", () => {});

  it("never takes the client-built https:// URL for TLS: requireHttps believes only the trusted proxy", async () => {
    const POST = webhookHandler(make({ requireHttps: true, trustProxy: true }));
    const url = "https://example.com/api/webhooks"; // what an absolute-form target over plain HTTP becomes
    expect((await POST(await signedRequest({ secret, event, url }))).status).toBe(403);
    const proxied = await signedRequest({ secret, event, url, headers: { "x-forwarded-proto": "https" } });
    expect((await POST(proxied)).status).toBe(200);
  });

  it("fails at start-up when requireHttps, allowIps or rateLimit needs a fact it cannot know", () => {
    expect(() => webhookHandler(make({ requireHttps: true }))).toThrow(/requireHttps needs .* the Next.js App Router/);
    expect(() => webhookHandler(make({ allowIps: ["192.0.2.0/24"] }))).toThrow(/the Next.js App Router does not know/);
    expect(() => webhookHandler(make({ allowIps: ["192.0.2.0/24"], trustProxy: true }))).not.toThrow();
  });

  it("gives allowIps the trusted proxy's address", async () => {
    const POST = webhookHandler(make({ allowIps: ["192.0.2.0/24"], trustProxy: true }));
    const from = async (forwardedFor: string) =>
      (await POST(await signedRequest({ secret, event, headers: { "x-forwarded-for": forwardedFor } }))).status;
    expect(await from("203.0.113.9, 192.0.2.7")).toBe(200);
    expect(await from("192.0.2.7, 203.0.113.9")).toBe(403);
  });
});
