import { createReceiver, type IdempotencyStore, memoryStore, stripe, verify } from "@hookline/core";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ContractRunner, runStoreContract, serviceUrl, signedDelivery, signedRequest } from "../src";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const quiet = { info() {}, warn() {}, error() {} };

describe("signedDelivery", () => {
  it("signs the Standard Webhooks envelope so that the official standardwebhooks package verifies it", async () => {
    const { headers, body } = await signedDelivery({
      secret,
      id: "msg_kit_1",
      timestamp: new Date(),
      event: { type: "invoice.paid", data: { id: "in_1", amountCents: 4200 } },
    });
    expect(headers["content-type"]).toBe("application/json");
    expect(typeof body).toBe("string");
    const verified = new Webhook(secret).verify(body as string, headers) as Record<string, unknown>;
    expect(verified).toMatchObject({ id: "msg_kit_1", type: "invoice.paid", data: { id: "in_1", amountCents: 4200 } });
    expect(Date.parse(verified.timestamp as string) / 1000).toBe(Number(headers["webhook-timestamp"]));
  });

  it("signs a payload's exact bytes, even ones that are not UTF-8, and adds the extra headers", async () => {
    const payload = new Uint8Array([0x7b, 0xff, 0xfe, 0x00, 0x7d]);
    const { headers, body } = await signedDelivery({ secret, payload, headers: { "x-extra": "1" } });
    expect(body).toEqual(payload);
    expect(headers["x-extra"]).toBe("1");
    expect(headers["webhook-id"]).toMatch(/^msg_test_[0-9a-f]{32}$/);
    const verified = await verify({ secret, payload: body, headers });
    expect(verified.id).toBe(headers["webhook-id"]);
  });

  it("signs for another scheme when asked", async () => {
    const stripeSecret = "whsec_stripe_test_secret";
    const { headers, body } = await signedDelivery({
      secret: stripeSecret,
      scheme: stripe(),
      event: { type: "invoice.paid", data: {} },
    });
    expect(headers["stripe-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    await expect(verify({ secret: stripeSecret, scheme: stripe(), payload: body, headers })).resolves.toBeTruthy();
  });
});

describe("signedRequest", () => {
  it("builds a Request that a receiver processes, then knows as a duplicate", async () => {
    const seen: string[] = [];
    const receiver = createReceiver({ secret, logger: quiet }).on("invoice.paid", (event) => {
      seen.push(event.id);
    });
    const options = { secret, id: "msg_kit_2", event: { type: "invoice.paid", data: {} } };
    const request = await signedRequest(options);
    expect(request.url).toBe("http://localhost/webhooks");
    expect(request.method).toBe("POST");
    expect((await receiver.handle(request)).status).toBe(200);
    const again = await receiver.handle(await signedRequest({ ...options, url: "https://hooks.example.com/in" }));
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    expect(seen).toEqual(["msg_kit_2"]);
  });
});

describe("serviceUrl", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("returns the variable's value", () => {
    vi.stubEnv("HOOKLINE_KIT_TEST_URL", "redis://127.0.0.1:6379");
    expect(serviceUrl("HOOKLINE_KIT_TEST_URL")).toBe("redis://127.0.0.1:6379");
  });

  it("skips loudly when the variable is missing outside CI", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    for (const ci of ["", "false", "0"]) {
      vi.stubEnv("CI", ci);
      expect(serviceUrl("HOOKLINE_KIT_MISSING_URL")).toBeUndefined();
    }
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls[0]?.[0]).toMatch(/HOOKLINE_KIT_MISSING_URL is not set: SKIPPING/);
  });

  it("fails under CI, where a skipped service suite would hide a broken setup", () => {
    vi.stubEnv("CI", "true");
    expect(() => serviceUrl("HOOKLINE_KIT_MISSING_URL")).toThrow(
      /HOOKLINE_KIT_MISSING_URL is not set, and CI must run/,
    );
  });
});

/** The contract's tests as a runner collects them, to run by hand. */
function collect(run: (runner: ContractRunner) => void) {
  const tests = new Map<string, () => Promise<void>>();
  run({ describe: (_name, body) => body(), it: (name, body) => tests.set(name, body) });
  return tests;
}

describe("the store contract catches a broken store", () => {
  // A real memory store whose claim never refuses: every worker would process every redelivery.
  const everyClaimWins = (): IdempotencyStore => {
    const store = memoryStore();
    return {
      claim: async () => ({ status: "claimed", token: crypto.randomUUID() }),
      complete: (key, token, retentionMs) => store.complete(key, token, retentionMs),
      release: (key, token) => store.release(key, token),
    };
  };

  it("fails on it, naming the guarantee it breaks; passes on the memory store", async () => {
    const broken = collect((runner) => runStoreContract("broken", everyClaimWins, runner));
    const race = broken.get("gives exactly one of 100 concurrent claims");
    expect(race).toBeDefined();
    await expect(race!()).rejects.toThrow(/^Store contract violated: exactly one claim must win, 100 did$/);
    const sound = collect((runner) => runStoreContract("memory", () => memoryStore(), runner));
    await expect(sound.get("gives exactly one of 100 concurrent claims")!()).resolves.toBeUndefined();
  });
});
