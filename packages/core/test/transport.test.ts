import { once } from "node:events";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { signedDelivery, signedRequest } from "@hookline/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertConnectionKnown, createReceiver, type ReceiverOptions } from "../src";
import { nodeHandler } from "../src/node";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const silent = { info() {}, warn() {}, error() {} };
const order = { type: "order.created", data: { id: "ord_1" } };

function receiverWith(options: Partial<ReceiverOptions> = {}) {
  return createReceiver({ secret, logger: silent, ...options }).on("order.created", () => {});
}

/** One raw HTTP/1.1 exchange (the server closes after answering), so that the request line and Host can be what no Fetch client would send. */
async function exchange(port: number, head: string, body: string): Promise<{ status: number; text: string }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return { status: Number(text.slice(9, 12)), text };
}

async function nodeServer(options: Partial<ReceiverOptions>) {
  const server = createServer(nodeHandler(receiverWith(options))).listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    port,
    async send(target: string, host: string) {
      const { headers, body } = await signedDelivery({ secret, event: order });
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
      return exchange(port, [`POST ${target} HTTP/1.1`, `host: ${host}`, ...lines].join("\r\n"), body as string);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("requireHttps decides from what the server knows", () => {
  it("refuses a plain-HTTP request whose absolute-form target says https (Node bridge)", async () => {
    const server = await nodeServer({ requireHttps: true });
    try {
      const answer = await server.send("https://example.com/webhooks", "example.com");
      expect(answer.status).toBe(403);
      expect(answer.text).toContain('"https_required"');
    } finally {
      await server.close();
    }
  });

  it("takes handle()'s connection over the request URL's scheme", async () => {
    const receiver = receiverWith({ requireHttps: true });
    const request = () => signedRequest({ secret, event: order, url: "https://example.com/webhooks" });
    expect((await receiver.handle(await request(), { secure: false })).status).toBe(403);
    expect((await receiver.handle(await request(), { secure: true })).status).toBe(200);
    // Without connection facts, the URL's scheme: sound only where the runtime wrote it (Workers, Deno, Bun).
    expect((await receiver.handle(await request())).status).toBe(200);
  });

  it("reads x-forwarded-proto and x-forwarded-for from the proxy's end under trustProxy", async () => {
    const receiver = receiverWith({ requireHttps: true, trustProxy: true, allowIps: ["192.0.2.0/24"] });
    const send = async (headers: Record<string, string>) => {
      const request = await signedRequest({ secret, event: order, url: "http://internal/webhooks", headers });
      return (await receiver.handle(request, { secure: false, remoteAddress: "10.0.0.1" })).status;
    };
    // The client wrote the first entries; the proxy appended the last.
    expect(await send({ "x-forwarded-proto": "https, http", "x-forwarded-for": "192.0.2.1" })).toBe(403);
    expect(await send({ "x-forwarded-proto": "http, https", "x-forwarded-for": "192.0.2.1" })).toBe(200);
    expect(await send({ "x-forwarded-proto": "https", "x-forwarded-for": "192.0.2.1, 203.0.113.9" })).toBe(403);
    expect(await send({ "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9, 192.0.2.1" })).toBe(200);
  });
});

describe("a malformed Host or request target", () => {
  it.each([
    ["a malformed Host", "/webhooks", "[::1"],
    ["a Host with a space", "/webhooks", "exa mple.com"],
    ["a Host with a path", "/webhooks", "example.com/evil"],
    ["a malformed absolute-form target", "http://[oops/webhooks", "example.com"],
    ["an absolute-form target with a bad port", "http://example.com:99999/webhooks", "example.com"],
  ])("answers 400 malformed_request to %s, never 500 (Node bridge, requireHttps)", async (_, target, host) => {
    const server = await nodeServer({ requireHttps: true });
    try {
      const answer = await server.send(target, host);
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('"malformed_request"');
    } finally {
      await server.close();
    }
  });

  it("accepts a well-formed absolute-form target and IPv6 Host", async () => {
    const server = await nodeServer({});
    try {
      expect((await server.send(`http://127.0.0.1:${server.port}/webhooks`, "ignored.example")).status).toBe(200);
      expect((await server.send("/webhooks", "[::1]:8080")).status).toBe(200);
      expect((await server.send("/webhooks", "[fe80::1%25eth0]:8080")).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("connection needs", () => {
  it("says which facts the options need unless a trusted proxy supplies them", () => {
    expect(receiverWith().connectionNeeds).toEqual({ secure: false, remoteAddress: false });
    expect(receiverWith({ requireHttps: true, allowIps: ["::1"] }).connectionNeeds).toEqual({
      secure: true,
      remoteAddress: true,
    });
    expect(receiverWith({ requireHttps: true, allowIps: ["::1"], trustProxy: true }).connectionNeeds).toEqual({
      secure: false,
      remoteAddress: false,
    });
  });

  it("assertConnectionKnown fails at start-up, naming the runtime and the fix", () => {
    const needs = receiverWith({ allowIps: ["::1"] }).connectionNeeds;
    expect(() => assertConnectionKnown(needs, { secure: true, remoteAddress: false }, "this runtime")).toThrow(
      /allowIps and rateLimit need the peer's address, which this runtime does not know: set trustProxy/,
    );
    expect(() => assertConnectionKnown(needs, { secure: false, remoteAddress: true }, "this runtime")).not.toThrow();
  });
});

describe("transport checks against their specification (fast-check)", () => {
  const receivers = {
    direct: receiverWith({ requireHttps: true, allowIps: ["192.0.2.0/24"] }),
    proxied: receiverWith({ requireHttps: true, allowIps: ["192.0.2.0/24"], trustProxy: true }),
  };
  const entry = fc.constantFrom("http", "https", "HTTPS", " https ", "", "ftp");
  const address = fc.constantFrom("192.0.2.1", "::ffff:192.0.2.7", "203.0.113.9", "2001:db8::1", "garbage", "");
  /** The entry the nearest proxy appended, if it says anything. */
  const last = (entries: string[]) => (entries.length > 0 ? entries.at(-1)!.trim() || undefined : undefined);

  it("https from the connection or the proxy's last x-forwarded-proto; the peer from the socket or the proxy's last x-forwarded-for", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          trustProxy: fc.boolean(),
          secure: fc.option(fc.boolean(), { nil: undefined }),
          scheme: fc.constantFrom("http", "https"),
          proto: fc.array(entry, { maxLength: 3 }),
          forwardedFor: fc.array(address, { maxLength: 3 }),
          remoteAddress: fc.option(address, { nil: undefined }),
        }),
        async ({ trustProxy, secure, scheme, proto, forwardedFor, remoteAddress }) => {
          const headers: Record<string, string> = {};
          if (proto.length > 0) headers["x-forwarded-proto"] = proto.join(",");
          if (forwardedFor.length > 0) headers["x-forwarded-for"] = forwardedFor.join(", ");
          const request = await signedRequest({ secret, event: order, url: `${scheme}://hooks.example/w`, headers });
          const receiver = trustProxy ? receivers.proxied : receivers.direct;
          const status = (await receiver.handle(request, { secure, remoteAddress })).status;

          const forwarded = trustProxy ? last(proto)?.toLowerCase() : undefined;
          const https = forwarded !== undefined ? forwarded === "https" : (secure ?? scheme === "https");
          const peer = (trustProxy ? last(forwardedFor) : undefined) ?? remoteAddress;
          const allowed = peer === "192.0.2.1" || peer === "::ffff:192.0.2.7";
          expect(status).toBe(!https ? 403 : !allowed ? 403 : 200);
        },
      ),
      { seed: 0x7a5, numRuns: 300 },
    );
  });
});
