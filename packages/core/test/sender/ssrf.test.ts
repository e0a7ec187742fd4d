import dns from "node:dns/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryAgent, type DeliveryLookup, deliver, deliveryGuard } from "../../src";
import { type LoopbackServer, loopbackServer } from "./loopback";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const payload = '{"type":"ping","timestamp":"2026-12-01T00:00:00.000Z","data":{}}';
// Node's connection asks the guard for every hostname; the fetch transport (every other runtime) only sees the URL.
const lookupGuard = deliveryGuard === "lookup";

let v4: LoopbackServer;
let v6: LoopbackServer;
beforeAll(async () => {
  v4 = await loopbackServer();
  v6 = await loopbackServer(undefined, "::1");
  return async () => {
    await v4.close();
    await v6.close();
  };
});

// A made-up name under .test (RFC 6761: never resolvable), answered by an injected lookup that counts its calls.
const lookups: string[] = [];
const lookup: DeliveryLookup = async (hostname) => {
  lookups.push(hostname);
  if (hostname === "hooks.test") return [{ address: "127.0.0.1", family: 4 }];
  if (hostname === "mixed.test") {
    // A public address and a loopback one: ANY refused address refuses the host. (Never connected to.)
    return [
      { address: "93.184.216.34", family: 4 },
      { address: "127.0.0.1", family: 4 },
    ];
  }
  if (hostname === "localhost") return dns.lookup(hostname, { all: true });
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
};

const urls = () => [
  `http://127.0.0.1:${v4.port}/`,
  `http://[::1]:${v6.port}/`,
  `http://[::ffff:127.0.0.1]:${v4.port}/`,
  `http://2130706433:${v4.port}/`,
  `http://0x7f.1:${v4.port}/`,
  `http://localhost:${v4.port}/`,
  ...(lookupGuard ? [`http://hooks.test:${v4.port}/`, `http://mixed.test:${v4.port}/`] : []),
];

const guarded = createDeliveryAgent({ lookup });
const allowed = createDeliveryAgent({ lookup, allow: ["127.0.0.1/32", "::1/128"] });
afterAll(async () => {
  await guarded.close();
  await allowed.close();
});

describe("the SSRF guard", () => {
  it("refuses every spelling of a loopback address with no connection made", async () => {
    for (const url of urls()) {
      const result = await guarded.deliver({ url, payload, id: "msg_1", secret });
      expect(result.outcome, url).toEqual({ kind: "blocked" });
      expect(result.error, url).toMatch(/^blocked: .*not public unicast/);
      expect(result.status).toBeUndefined();
    }
    // The default agent of `deliver()` guards too.
    expect((await deliver({ url: `http://127.0.0.1:${v4.port}/`, payload, id: "msg_1", secret })).outcome).toEqual({
      kind: "blocked",
    });
    expect(v4.connections + v6.connections).toBe(0);
    expect(v4.requests.length + v6.requests.length).toBe(0);
  });

  it.runIf(lookupGuard)("resolves a name once and refuses it when any address is not public", async () => {
    lookups.length = 0;
    const result = await guarded.deliver({ url: `http://mixed.test:${v4.port}/`, payload, id: "msg_1", secret });
    expect(result.error).toBe("blocked: mixed.test resolves to 127.0.0.1 is loopback, not public unicast");
    expect(lookups).toEqual(["mixed.test"]);
    expect(v4.connections).toBe(0);
  });

  it("reaches the same servers once allow names them", async () => {
    const reachable = urls().filter((url) => !url.includes("mixed.test"));
    lookups.length = 0;
    for (const url of reachable) {
      const result = await allowed.deliver({ url, payload, id: "msg_1", secret });
      expect(result, url).toMatchObject({ outcome: { kind: "success" }, status: 200, body: "ok" });
    }
    expect(v4.requests.length + v6.requests.length).toBe(reachable.length);
    expect(v6.requests).toHaveLength(1);
    // The injected answer is where the connection went: no second lookup asked the system about hooks.test.
    if (lookupGuard) expect(lookups.filter((name) => name === "hooks.test")).toEqual(["hooks.test"]);
    // 127.0.0.2 is loopback too, but outside the allowed /32.
    const outside = await allowed.deliver({ url: `http://127.0.0.2:${v4.port}/`, payload, id: "msg_1", secret });
    expect(outside.outcome).toEqual({ kind: "blocked" });
  });

  it("treats a caller's fetch as the caller's guard, still refusing IP literals", async () => {
    let fetched = 0;
    const agent = createDeliveryAgent({
      fetch: (input, init) => {
        fetched++;
        return fetch(input, init);
      },
    });
    const result = await agent.deliver({ url: `http://[::1]:${v6.port}/`, payload, id: "msg_1", secret });
    expect(result.outcome).toEqual({ kind: "blocked" });
    expect(fetched).toBe(0);
    await agent.close();
  });
});
