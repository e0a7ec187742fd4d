// HTTPS through the guarded connection: the name is resolved by the guard's lookup, the TLS handshake still names
// the host (SNI) and checks its certificate. The certificate is a self-signed test-only one for hooks.test.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDeliveryAgent, type DeliveryLookup, deliveryGuard } from "../../src";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const payload = '{"type":"ping","timestamp":"2026-12-01T00:00:00.000Z","data":{}}';

const names: string[] = [];
let connections = 0;
const server = createServer(
  { key: fixture("test-only-tls.key"), cert: fixture("test-only-tls.crt") },
  (request, response) => {
    request.resume();
    request.on("end", () => response.end("ok"));
  },
);
server.on("connection", () => connections++);
server.on("secureConnection", (socket: TLSSocket) => names.push(String(socket.servername)));
let port = 0;
beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
  return () => {
    server.closeAllConnections();
    server.close();
  };
});

const lookup: DeliveryLookup = async (hostname) => {
  if (hostname !== "hooks.test")
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return [{ address: "127.0.0.1", family: 4 }];
};
const guarded = createDeliveryAgent({ lookup });
const allowed = createDeliveryAgent({ lookup, allow: ["127.0.0.1/32"] });
afterAll(async () => {
  await guarded.close();
  await allowed.close();
});

it.runIf(deliveryGuard === "lookup")(
  "resolves https hosts through the guard, keeps the name for SNI and the certificate check",
  async () => {
    const url = `https://hooks.test:${port}/webhooks`;
    const refused = await guarded.deliver({ url, payload, id: "msg_1", secret });
    expect(refused).toMatchObject({ outcome: { kind: "blocked" } });
    expect(connections).toBe(0);

    // Reached, but the self-signed certificate is not trusted: no answer, a retry.
    const untrusted = await allowed.deliver({ url, payload, id: "msg_1", secret });
    expect(untrusted.outcome).toEqual({ kind: "retry" });
    expect(untrusted.error).toMatch(/self[- ]signed/i);

    // Trusted for this attempt only: delivered, and the handshake named the host, not the address.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    try {
      const delivered = await allowed.deliver({ url, payload, id: "msg_1", secret });
      expect(delivered).toMatchObject({ outcome: { kind: "success" }, status: 200, body: "ok" });
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
    expect(names).toContain("hooks.test");
  },
);
