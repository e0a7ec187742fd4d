import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryAgent, cryptoBackend, deliveryGuard, github, verify } from "../../src";
import { type Answer, type LoopbackServer, loopbackServer } from "./loopback";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const payload = '{"type":"order.created","timestamp":"2026-12-01T00:00:00.000Z","data":{"id":"ord_1","total":12.5}}';
const agent = createDeliveryAgent({ allow: ["127.0.0.1/32", "::1/128"] });
afterAll(() => agent.close());

// The node:crypto project runs the Node build's transport (node:http through the guarded lookup), the WebCrypto
// project the neutral one (fetch): the same tests hold for both.
it("runs the transport of its build", () => {
  // Bun and Deno resolve the `node` build but take the fetch path, detected at run time.
  const onNode = !("Bun" in globalThis) && !("Deno" in globalThis);
  expect(deliveryGuard).toBe(cryptoBackend === "node" && onNode ? "lookup" : "literal");
});

let answer: Answer = (_, response) => response.end("ok");
let server: LoopbackServer;
beforeAll(async () => {
  server = await loopbackServer((request, response) => answer(request, response));
  return () => server.close();
});

async function attempt(respond: Answer, options: Partial<Parameters<typeof agent.deliver>[0]> = {}) {
  answer = respond;
  const before = server.requests.length;
  const result = await agent.deliver({ url: `${server.origin}/hooks?x=1`, payload, id: "msg_1", secret, ...options });
  return { result, request: server.requests[before] };
}

describe("deliver", () => {
  it("POSTs the exact bytes, signed, with content-type, user-agent and the endpoint's headers", async () => {
    const bytes = new TextEncoder().encode(payload);
    const { result, request } = await attempt(
      (_, response) => response.writeHead(200, { "x-seen": "1" }).end("thanks"),
      {
        payload: bytes,
        headers: { "X-Tenant": "acme", Authorization: "Bearer t" },
      },
    );
    expect(result).toMatchObject({ outcome: { kind: "success" }, status: 200, body: "thanks" });
    expect(result.headers?.["x-seen"]).toBe("1");
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/hooks?x=1");
    expect(request?.body.equals(Buffer.from(bytes))).toBe(true);
    expect(request?.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": expect.stringMatching(/^Hookline\/\d+\.\d+\.\d+/),
      "x-tenant": "acme",
      authorization: "Bearer t",
      "webhook-id": "msg_1",
    });
    const verified = await verify({
      secret,
      payload: request!.body,
      headers: request!.headers as Record<string, string>,
    });
    expect(verified).toMatchObject({ id: "msg_1", payload });
  });

  it("never lets the endpoint's headers replace the signature, content-type or framing headers", async () => {
    const { result, request } = await attempt((_, response) => response.end("ok"), {
      headers: {
        "Webhook-Signature": "v1,forged",
        "webhook-id": "msg_forged",
        "Webhook-Timestamp": "1",
        "Content-Type": "text/plain",
        "User-Agent": "curl",
        "content-length": "3",
        host: "example.com",
      },
    });
    expect(result.outcome.kind).toBe("success");
    expect(request?.headers["webhook-id"]).toBe("msg_1");
    expect(request?.headers["webhook-signature"]).not.toContain("forged");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["user-agent"]).toMatch(/^Hookline\//);
    expect(request?.headers.host).toBe(server.origin.slice("http://".length));
    await verify({ secret, payload: request!.body, headers: request!.headers as Record<string, string> });
  });

  it("sends credentials in the URL as Basic authorization, not in the request line", async () => {
    const base = new URL(server.origin);
    const url = `http://hook%40user:p%3Ass@${base.host}/hooks?x=1`;
    answer = (_, response) => response.end("ok");
    const result = await agent.deliver({ url, payload, id: "msg_1", secret });
    expect(result.outcome.kind).toBe("success");
    const received = server.requests.at(-1)!;
    expect(received.path).toBe("/hooks?x=1");
    expect(received.headers.authorization).toBe(`Basic ${Buffer.from("hook@user:p:ss").toString("base64")}`);
  });

  it("signs with the scheme it is given", async () => {
    const { request } = await attempt((_, response) => response.end(), { scheme: github(), secret: "gh-secret" });
    expect(request?.headers["x-hub-signature-256"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    await verify({
      scheme: github(),
      secret: "gh-secret",
      payload: request!.body,
      headers: request!.headers as Record<string, string>,
    });
  });

  it("classifies the answer: 5xx and 429 retry with Retry-After, 410 disables, other 4xx are final", async () => {
    const status = (code: number, headers: Record<string, string> = {}) =>
      attempt((_, response) => response.writeHead(code, headers).end()).then(({ result }) => result);
    expect((await status(503, { "retry-after": "30" })).outcome).toEqual({ kind: "retry", retryAfter: 30_000 });
    expect((await status(429)).outcome).toEqual({ kind: "retry" });
    expect((await status(410)).outcome).toEqual({ kind: "disable" });
    expect((await status(400)).outcome).toEqual({ kind: "final" });
    expect(await status(204)).toMatchObject({ outcome: { kind: "success" }, status: 204, body: "" });
  });

  it("reads webhook-delivery on an answer that is not a 2xx: disable, abort-message", async () => {
    const directive = (code: number, value: string) =>
      attempt((_, response) => response.writeHead(code, { "webhook-delivery": value }).end()).then(
        ({ result }) => result.outcome,
      );
    expect(await directive(503, "disable")).toEqual({ kind: "disable" });
    expect(await directive(500, "abort-message")).toEqual({ kind: "final" });
    expect(await directive(200, "disable")).toEqual({ kind: "success" });
  });

  it("does not follow a redirect: a 3xx is final", async () => {
    const { result } = await attempt((_, response) =>
      response.writeHead(302, { location: `${server.origin}/elsewhere` }).end(),
    );
    expect(result).toMatchObject({ outcome: { kind: "final" }, status: 302 });
    expect(server.requests.at(-1)?.path).toBe("/hooks?x=1");
  });

  it("reads the answer up to maxResponseBytes and cuts it there", async () => {
    const big = "x".repeat(200_000);
    const { result } = await attempt((_, response) => response.end(big), { maxResponseBytes: 1000 });
    expect(result).toMatchObject({ outcome: { kind: "success" }, status: 200 });
    expect(result.body).toBe("x".repeat(1000));
    const small = await attempt((_, response) => response.end("short"), { maxResponseBytes: 1000 });
    expect(small.result.body).toBe("short");
  });

  it("ends a slow attempt at timeoutMs as a retry", async () => {
    const { result } = await attempt(() => {}, { timeoutMs: 200 });
    expect(result).toMatchObject({ outcome: { kind: "retry" }, error: "timeout after 200 ms" });
    expect(result.status).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(150);
  });

  it("counts reading the answer in the timeout", async () => {
    const { result } = await attempt((_, response) => response.writeHead(200).write("partial"), { timeoutMs: 200 });
    expect(result).toMatchObject({ outcome: { kind: "retry" }, error: "timeout after 200 ms" });
  });

  it("ends an attempt when the caller's signal aborts", async () => {
    const controller = new AbortController();
    const pending = attempt(() => controller.abort(), { signal: controller.signal });
    expect((await pending).result).toMatchObject({ outcome: { kind: "retry" }, error: "aborted" });
  });

  it("turns a refused connection into a retry with the network error", async () => {
    const closed = await loopbackServer();
    await closed.close();
    const result = await agent.deliver({ url: closed.origin, payload, id: "msg_1", secret });
    expect(result.outcome).toEqual({ kind: "retry" });
    expect(result.error).toMatch(/ECONNREFUSED|Connection refused/); // Node and Bun; Deno
  });

  it("ends an attempt with a header that cannot be sent as final, sending nothing", async () => {
    const before = server.requests.length;
    for (const headers of [
      { "x-a": "one\r\nx-injected: 1" },
      { "bad name": "v" },
      { "x-nul": "a\0b" },
      { "x-emoji": "🎉" },
    ] as Record<string, string>[]) {
      const result = await agent.deliver({ url: server.origin, payload, id: "msg_1", secret, headers });
      expect(result).toMatchObject({ outcome: { kind: "final" }, error: expect.stringMatching(/^invalid header/) });
    }
    expect(server.requests.length).toBe(before);
  });

  it("ends a URL that cannot be delivered to as final, without throwing", async () => {
    expect(await agent.deliver({ url: "not a url", payload, id: "msg_1", secret })).toMatchObject({
      outcome: { kind: "final" },
      error: expect.stringMatching(/invalid URL/),
    });
    expect(await agent.deliver({ url: "ftp://127.0.0.1/", payload, id: "msg_1", secret })).toMatchObject({
      outcome: { kind: "final" },
      error: expect.stringMatching(/protocol/),
    });
  });
});
