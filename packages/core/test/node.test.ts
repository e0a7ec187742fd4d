import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { runAdapterContract, signedDelivery } from "@hookline/testing";
import { describe, expect, it } from "vitest";
import { createReceiver } from "../src";
import { nodeHandler } from "../src/node";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const quiet = { info() {}, warn() {}, error() {} };

type Listener = (request: IncomingMessage, response: ServerResponse) => void;

async function listen(listener: Listener) {
  const server = createServer(listener).listen(0, "127.0.0.1");
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

runAdapterContract("node:http (nodeHandler)", { start: (receiver) => listen(nodeHandler(receiver)) }, { describe, it });

/** Runs `before` (a body parser of some kind) and then the bridge; sends one signed delivery. */
async function deliverAfter(before: (request: IncomingMessage & Record<string, unknown>) => Promise<void>) {
  const receiver = createReceiver({ secret, logger: quiet }).on("order.created", () => {});
  const handle = nodeHandler(receiver);
  const server = await listen((request, response) => {
    void before(request as IncomingMessage & Record<string, unknown>).then(() => handle(request, response));
  });
  try {
    const { headers, body } = await signedDelivery({ secret, event: { type: "order.created", data: {} } });
    const response = await fetch(server.url, {
      method: "POST",
      headers,
      body: body as string,
      signal: AbortSignal.timeout(2_000),
    });
    return { status: response.status, body: await response.json() };
  } finally {
    await server.close();
  }
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("the Node bridge after a body parser", () => {
  it("answers 500 raw_body_unavailable at once when the stream was read and nothing kept", async () => {
    const answer = await deliverAfter(async (request) => {
      request.body = JSON.parse((await readAll(request)).toString());
    });
    expect(answer).toMatchObject({ status: 500, body: { error: { code: "raw_body_unavailable" } } });
  });

  it.each([
    ["req.rawBody as a Buffer", (request: Record<string, unknown>, raw: Buffer) => (request.rawBody = raw)],
    ["req.rawBody as a string", (request: Record<string, unknown>, raw: Buffer) => (request.rawBody = raw.toString())],
    ["req.body as a Buffer", (request: Record<string, unknown>, raw: Buffer) => (request.body = raw)],
  ])("verifies the raw body a parser kept as %s", async (_, keep) => {
    const answer = await deliverAfter(async (request) => {
      keep(request, await readAll(request));
    });
    expect(answer).toEqual({ status: 200, body: { received: true } });
  });
});
