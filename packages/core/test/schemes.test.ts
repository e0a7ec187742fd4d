import { createHmac } from "node:crypto";
import { verify as octokitVerify } from "@octokit/webhooks-methods";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  github,
  HooklineError,
  hmac,
  type Payload,
  sign,
  standardWebhooks,
  stripe,
  verify,
  type WebhookScheme,
} from "../src";
import { expectHooklineError, expectVerificationError, utf8 } from "./verification-helpers";

const T = 1_700_000_000;
const now = T * 1000;
const payload = '{"id":"evt_1","amount":1.50}';
const digest = (secret: string, body: string, encoding: "hex" | "base64") =>
  createHmac("sha256", secret).update(body).digest(encoding);

describe("github()", () => {
  const scheme = github();
  const secret = "It's a Secret to Everybody";
  const check = (headers: Record<string, string>, body = payload) => verify({ scheme, secret, payload: body, headers });

  it("signs GitHub's documented example", async () => {
    expect(await sign({ scheme, secret, payload: "Hello, World!", id: "delivery-1" })).toEqual({
      "x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
      "x-github-delivery": "delivery-1",
    });
  });

  it("returns the delivery id from x-github-delivery, and no id or timestamp without it", async () => {
    const signature = `sha256=${digest(secret, payload, "hex")}`;
    await expect(check({ "x-hub-signature-256": signature, "x-github-delivery": "72d3162e" })).resolves.toEqual({
      id: "72d3162e",
      payload,
    });
    await expect(check({ "x-hub-signature-256": signature })).resolves.toEqual({ payload });
  });

  it("accepts upper-case hex, which octokit's own verify does not", async () => {
    const upper = `sha256=${digest(secret, payload, "hex").toUpperCase()}`;
    await expect(check({ "x-hub-signature-256": upper })).resolves.toEqual({ payload });
    expect(await octokitVerify(secret, payload, upper)).toBe(false);
  });

  it("accepts whitespace around the header value", async () => {
    await expect(check({ "x-hub-signature-256": ` sha256=${digest(secret, payload, "hex")} ` })).resolves.toBeDefined();
  });

  it.each([
    ["no prefix", digest(secret, payload, "hex"), "malformed_header"],
    ["the sha1= prefix", `sha1=${digest(secret, payload, "hex")}`, "malformed_header"],
    ["an upper-case prefix", `SHA256=${digest(secret, payload, "hex")}`, "malformed_header"],
    ["a base64 digest", `sha256=${digest(secret, payload, "base64")}`, "no_matching_signature"],
    ["another body's digest", `sha256=${digest(secret, `${payload}\n`, "hex")}`, "no_matching_signature"],
  ] as const)("rejects %s as %s", async (_, value, code) => {
    await expectVerificationError(check({ "x-hub-signature-256": value }), code);
  });

  it("ignores the legacy x-hub-signature (SHA-1) header: missing_header", async () => {
    const legacy = `sha1=${createHmac("sha1", secret).update(payload).digest("hex")}`;
    await expectVerificationError(check({ "x-hub-signature": legacy }), "missing_header");
  });
});

describe("hmac()", () => {
  const shopify = hmac({ header: "X-Shopify-Hmac-Sha256", encoding: "base64", idHeader: "X-Shopify-Webhook-Id" });
  const secret = "shpss_0123456789abcdef";

  it("Shopify style: a base64 digest of the body, the id from the idHeader", async () => {
    const headers = { "X-Shopify-Hmac-Sha256": digest(secret, payload, "base64"), "X-Shopify-Webhook-Id": "b54557e4" };
    await expect(verify({ scheme: shopify, secret, payload, headers })).resolves.toEqual({ id: "b54557e4", payload });
    expect(await sign({ scheme: shopify, secret, payload, id: "b54557e4" })).toEqual(
      Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    );
  });

  it("compares base64 exactly: a case-changed or hex digest fails", async () => {
    for (const value of [digest(secret, payload, "base64").toUpperCase(), digest(secret, payload, "hex")]) {
      await expectVerificationError(
        verify({ scheme: shopify, secret, payload, headers: { "x-shopify-hmac-sha256": value } }),
        "no_matching_signature",
      );
    }
  });

  it("defaults to bare hex, accepting upper case, and has no id without an idHeader", async () => {
    const scheme = hmac({ header: "x-signature" });
    const headers = await sign({ scheme, secret, payload, id: "ignored" });
    expect(headers).toEqual({ "x-signature": digest(secret, payload, "hex") });
    const upper = { "x-signature": headers["x-signature"]!.toUpperCase() };
    await expect(verify({ scheme, secret, payload, headers: upper })).resolves.toEqual({ payload });
  });

  it("requires and strips the configured prefix", async () => {
    const scheme = hmac({ header: "x-webhook-signature", prefix: "sha256=" });
    const hexDigest = digest(secret, payload, "hex");
    expect(await sign({ scheme, secret, payload })).toEqual({ "x-webhook-signature": `sha256=${hexDigest}` });
    await expect(
      verify({ scheme, secret, payload, headers: { "x-webhook-signature": `sha256=${hexDigest}` } }),
    ).resolves.toBeDefined();
    const error = await expectVerificationError(
      verify({ scheme, secret, payload, headers: { "x-webhook-signature": hexDigest } }),
      "malformed_header",
    );
    expect(error.message).toContain('"sha256="');
    // Without a prefix option, a prefixed value is just a wrong signature.
    await expectVerificationError(
      verify({
        scheme: hmac({ header: "x-webhook-signature" }),
        secret,
        payload,
        headers: { "x-webhook-signature": `sha256=${hexDigest}` },
      }),
      "no_matching_signature",
    );
  });

  it("signs with the first secret only and verifies with any", async () => {
    const scheme = hmac({ header: "x-signature" });
    const headers = await sign({ scheme, secret: ["new", "old"], payload });
    expect(headers).toEqual({ "x-signature": digest("new", payload, "hex") });
    await expect(verify({ scheme, secret: ["old", "new"], payload, headers })).resolves.toBeDefined();
    await expectVerificationError(verify({ scheme, secret: "old", payload, headers }), "no_matching_signature");
  });

  it("needs a header name: invalid_option", () => {
    for (const options of [{ header: "" }, {} as { header: string }]) {
      expect(() => hmac(options)).toThrow(HooklineError);
      expect(() => hmac(options)).toThrow(expect.objectContaining({ code: "invalid_option" }));
    }
  });
});

describe("stripe() header parsing", () => {
  const scheme = stripe();
  const secret = "whsec_stripe_parsing";
  const v1 = (body = payload, at = T) => digest(secret, `${at}.${body}`, "hex");
  const check = (header: string) => verify({ scheme, secret, payload, headers: { "stripe-signature": header }, now });

  it("signs t=<timestamp>,v1=<hex>, one v1 per secret", async () => {
    expect(await sign({ scheme, secret, payload, timestamp: T })).toEqual({ "stripe-signature": `t=${T},v1=${v1()}` });
    const rolled = await sign({ scheme, secret: [secret, "whsec_old"], payload, timestamp: T });
    expect(rolled["stripe-signature"]).toBe(`t=${T},v1=${v1()},v1=${digest("whsec_old", `${T}.${payload}`, "hex")}`);
  });

  it.each([
    ["ignoring v0 and unknown elements", `t=${T},v0=${"0".repeat(64)},v1=${v1()},foo=bar,junk`],
    ["with spaces after the commas", `t=${T}, v1=${v1()}`],
    ["with the valid v1 among others", `v1=${"ab".repeat(32)},t=${T},v1=${v1()}`],
    ["with upper-case hex", `t=${T},v1=${v1().toUpperCase()}`],
  ])("verifies %s", async (_, header) => {
    await expect(check(header)).resolves.toEqual({ timestamp: T, payload });
  });

  it.each([
    ["no t element", `v1=${v1()}`, "malformed_header"],
    ["no v1 element", `t=${T},v0=${v1()}`, "no_matching_signature"],
    ["the signature of another timestamp", `t=${T},v1=${v1(payload, T - 1)}`, "no_matching_signature"],
    ["an empty header", "", "missing_header"],
  ] as const)("rejects %s as %s", async (_, header, code) => {
    await expectVerificationError(check(header), code);
  });
});

describe("sign options", () => {
  // The id is sent as a header: anything but printable ASCII could not be sent (Fetch and node:http throw).
  it.each(["", "msg 1", "msg,1", "msg\t1", "msg_漢字", "msg_é", "msg\u0000", "msg\u007f"])(
    "rejects id %j as invalid_option",
    async (id) => {
      await expectHooklineError(
        sign({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", payload, id }),
        "invalid_option",
      );
    },
  );

  it.each([-1, Number.NaN, new Date("invalid")])("rejects timestamp %s as invalid_option", async (timestamp) => {
    await expectHooklineError(
      sign({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", payload, timestamp }),
      "invalid_option",
    );
  });

  it("floors fractional seconds and defaults the id to a fresh msg_ id", async () => {
    const first = await sign({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", payload, timestamp: T + 0.9 });
    const second = await sign({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", payload, timestamp: T });
    expect(first["webhook-timestamp"]).toBe(String(T));
    expect(first["webhook-id"]).toMatch(/^msg_[0-9A-Za-z]{24}$/);
    expect(first["webhook-id"]).not.toBe(second["webhook-id"]);
  });
});

describe("every scheme round-trips arbitrary payloads", () => {
  const secretKey = `whsk_${Buffer.alloc(32, 9).toString("base64")}`;
  const schemes: [string, WebhookScheme, string][] = [
    ["standard-webhooks v1", standardWebhooks(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ["standard-webhooks v1a", standardWebhooks(), secretKey],
    ["stripe", stripe(), "whsec_roundtrip"],
    ["github", github(), "roundtrip"],
    ["hmac base64", hmac({ header: "x-sig", encoding: "base64" }), "roundtrip"],
  ];

  // Strings with any code points, raw bytes (not necessarily UTF-8), and byte views into a larger buffer.
  const payloads: fc.Arbitrary<Payload> = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.uint8Array({ maxLength: 2_000 }),
    fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat({ max: 16 }))
      .map(([bytes, offset]) => new Uint8Array(new Uint8Array(offset + bytes.length + 3).buffer, offset, bytes.length)),
  );

  it.each(schemes)("%s: what is signed verifies, and one altered byte does not", async (_, scheme, secret) => {
    await fc.assert(
      fc.asyncProperty(payloads, fc.nat(), async (body, position) => {
        const headers = await sign({ scheme, secret, payload: body, id: "msg_rt", timestamp: T });
        const result = await verify({ scheme, secret, payload: body, headers, now });
        const bytes = typeof body === "string" ? utf8(body) : (body as Uint8Array);
        expect(result.payload).toBe(typeof body === "string" ? body : new TextDecoder().decode(bytes));
        const tampered = bytes.length === 0 ? Uint8Array.of(0x20) : Uint8Array.from(bytes);
        if (bytes.length > 0) tampered[position % bytes.length]! ^= 1;
        await expectVerificationError(
          verify({ scheme, secret, payload: tampered, headers, now }),
          "no_matching_signature",
        );
      }),
      { numRuns: 50 },
    );
  });

  it("an ArrayBuffer is the same payload as its bytes", async () => {
    const bytes = utf8(payload);
    const headers = await sign({
      payload: bytes.buffer as ArrayBuffer,
      secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      timestamp: T,
    });
    await expect(
      verify({ payload, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, now }),
    ).resolves.toMatchObject({ payload });
  });
});
