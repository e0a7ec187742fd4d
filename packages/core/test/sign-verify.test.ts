import { describe, expect, it } from "vitest";
import { cryptoBackend, sign, verify, WebhookVerificationError } from "../src";

// The Standard Webhooks reference vector.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const timestamp = 1614265330;
const payload = '{"test": 2432232314}';
const signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

describe(`sign/verify on the ${cryptoBackend} backend`, () => {
  it("signs the reference vector", async () => {
    expect(await sign({ secret, id, timestamp, payload })).toEqual({
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    });
  });

  it("verifies the reference vector at its own time", async () => {
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
    await expect(verify({ secret, payload, headers, now: timestamp * 1000 })).resolves.toEqual({
      id,
      timestamp,
      payload,
    });
  });

  it("rejects a parsed object with a hint to pass the raw body", async () => {
    const error = await verify({ secret, payload: JSON.parse(payload), headers: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookVerificationError);
    expect(error).toMatchObject({ code: "invalid_payload", message: expect.stringContaining("raw body") });
  });
});

describe("errors from another copy of Hookline", () => {
  it("are still instances of HooklineError and WebhookVerificationError", async () => {
    const { HooklineError } = await import("../src");
    const brand = Symbol.for("hookline.error");
    const foreign = Object.assign(new Error("no"), {
      name: "WebhookVerificationError",
      code: "missing_header",
      [brand]: true,
    });
    expect(foreign).toBeInstanceOf(HooklineError);
    expect(foreign).toBeInstanceOf(WebhookVerificationError);
    const other = Object.assign(new Error("no"), { name: "HooklineError", code: "invalid_option", [brand]: true });
    expect(other).toBeInstanceOf(HooklineError);
    expect(other).not.toBeInstanceOf(WebhookVerificationError);
    expect(new Error("plain")).not.toBeInstanceOf(HooklineError);
    expect(new HooklineError("invalid_option", "x")).not.toBeInstanceOf(WebhookVerificationError);
  });
});

describe("values from another realm (vm contexts, Next's Edge sandbox)", () => {
  it("verifies bytes and awaits a scheme's promise made in another realm", async () => {
    const { runInNewContext } = await import("node:vm");
    const { standardWebhooks } = await import("../src");
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
    const foreignBytes = runInNewContext("Uint8Array.from(bytes)", { bytes: [...new TextEncoder().encode(payload)] });
    expect(foreignBytes instanceof Uint8Array).toBe(false);
    await expect(verify({ secret, payload: foreignBytes, headers, now: timestamp * 1000 })).resolves.toMatchObject({
      id,
    });

    const inner = standardWebhooks();
    const foreignPromises = {
      ...inner,
      verify: (input: Parameters<typeof inner.verify>[0]) =>
        runInNewContext("Promise.resolve(result)", { result: inner.verify(input) }),
    };
    const outcome = verify({ scheme: foreignPromises, secret, payload, headers, now: timestamp * 1000 });
    await expect(outcome).resolves.toEqual({ id, timestamp, payload });
  });
});
