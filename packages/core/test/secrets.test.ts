import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  generateSecret,
  github,
  HooklineError,
  hmac,
  type Payload,
  type SecretInput,
  sign,
  standardWebhooks,
  stripe,
  verify,
  type WebhookScheme,
  WebhookVerificationError,
} from "../src";
import { expectHooklineError, expectVerificationError, vector } from "./verification-helpers";

const T = 1_700_000_000;
const now = T * 1000;
const payload = '{"type":"secret.test"}';
const { secret: good } = vector;
const bare = good.slice("whsec_".length);

afterEach(() => {
  vi.useRealTimers();
});

describe("Standard Webhooks secrets", () => {
  const headers = () => sign({ secret: good, payload, id: "msg_1", timestamp: T });

  it.each<[string, SecretInput, RegExp?]>([
    ["an empty string", ""],
    ["only whitespace", "  \n"],
    ['"whsec_" alone', "whsec_", /empty/],
    ["whitespace before", ` ${good}`, /whitespace/],
    ["a trailing newline", `${good}\n`, /whitespace/],
    ["whitespace after the prefix", `whsec_ ${bare}`, /whitespace/],
    ["non-base64 characters", "whsec_MfKQ9r8GKYqrTwjU-D8ILPZIo2LaLaSw!"],
    ["base64url instead of base64", "whsec_Ceo5qEr07ixe2NLpvHk3FH9bwy_WavXrAFQ_9tdO6mc"],
    ["a truncated base64 body", "whsec_MfKQ9"],
    ["an empty array", []],
    ["an array with an empty secret", [good, ""]],
    ["a number", 42 as unknown as string],
  ])("rejects %s as invalid_secret, in sign and verify", async (_, secret, message) => {
    const signing = await expectVerificationError(sign({ secret, payload, timestamp: T }), "invalid_secret");
    const verifying = await expectVerificationError(
      verify({ secret, payload, headers: await headers(), now }),
      "invalid_secret",
    );
    expect(verifying.status).toBe(500);
    if (message) {
      expect(signing.message).toMatch(message);
      expect(verifying.message).toMatch(message);
    }
  });

  it("never reveals the secret in the error", async () => {
    const secret = `whsec_${bare}\t`;
    const error = await expectVerificationError(
      verify({ secret, payload, headers: await headers(), now }),
      "invalid_secret",
    );
    expect(JSON.stringify(error.toJSON())).not.toContain(bare);
  });
});

describe("secrets with whitespace in the byte-keyed schemes", () => {
  const cases: [string, WebhookScheme, string][] = [
    ["stripe", stripe(), "whsec_stripe_whitespace"],
    ["github", github(), "It's a Secret to Everybody"],
    ["hmac", hmac({ header: "x-signature" }), "hmac_secret"],
  ];

  it.each(cases)(
    "%s: a padded secret fails as no_matching_signature, and the message points at the whitespace",
    async (_, scheme, secret) => {
      const headers = await sign({ scheme, secret, payload, id: "msg_1", timestamp: T });
      for (const padded of [` ${secret}`, `${secret}\n`, [`${secret}\r\n`, "other"]]) {
        const error = await expectVerificationError(
          verify({ scheme, secret: padded, payload, headers, now }),
          "no_matching_signature",
        );
        expect(error.message).toMatch(/whitespace/);
      }
    },
  );

  it.each(cases)(
    "%s: the whitespace is part of the key, so the same padded secret verifies",
    async (_, scheme, secret) => {
      const padded = `${secret}\n`;
      const headers = await sign({ scheme, secret: padded, payload, id: "msg_1", timestamp: T });
      await expect(verify({ scheme, secret: padded, payload, headers, now })).resolves.toMatchObject({ payload });
    },
  );

  it("matches Stripe's library, which also keys on the padded secret and mentions the whitespace", async () => {
    const secret = "whsec_stripe_whitespace";
    const { "stripe-signature": header } = await sign({ scheme: stripe(), secret, payload, timestamp: T });
    const webhooks = new Stripe("sk_test_hookline_no_network").webhooks;
    expect(() => webhooks.constructEvent(payload, header!, `${secret}\n`, 300, undefined, now)).toThrow(/whitespace/);
    const padded = await sign({ scheme: stripe(), secret: `${secret}\n`, payload, timestamp: T });
    expect(webhooks.constructEvent(payload, padded["stripe-signature"]!, `${secret}\n`, 300, undefined, now)).toEqual(
      JSON.parse(payload),
    );
  });

  it("gives the generic hint only when no secret has whitespace", async () => {
    const headers = await sign({ scheme: github(), secret: "right", payload });
    const error = await expectVerificationError(
      verify({ scheme: github(), secret: "wrong", payload, headers }),
      "no_matching_signature",
    );
    expect(error.message).not.toMatch(/whitespace/);
    expect(error.message).toMatch(/raw request body/);
  });
});

describe("payloads that are not the raw body", () => {
  const schemes: [string, WebhookScheme, string][] = [
    ["standard-webhooks", standardWebhooks(), good],
    ["stripe", stripe(), "whsec_stripe"],
    ["github", github(), "s3cret"],
  ];

  it.each(schemes)(
    "%s: a parsed object is invalid_payload with a hint about the raw body",
    async (_, scheme, secret) => {
      const headers = await sign({ scheme, secret, payload, timestamp: T });
      const parsed = JSON.parse(payload) as unknown as Payload;
      const verifying = await expectVerificationError(
        verify({ scheme, secret, payload: parsed, headers, now }),
        "invalid_payload",
      );
      expect(verifying.message).toMatch(/raw body/);
      expect(verifying.status).toBe(400);
      await expectVerificationError(sign({ scheme, secret, payload: parsed }), "invalid_payload");
    },
  );

  it.each([
    ["null", null],
    ["undefined", undefined],
    ["a number", 42],
  ])("%s is invalid_payload naming what it got", async (name, value) => {
    const headers = await sign({ secret: good, payload, timestamp: T });
    const error = await expectVerificationError(
      verify({ secret: good, payload: value as unknown as Payload, headers, now }),
      "invalid_payload",
    );
    expect(error.message).toContain(name === "a number" ? "number" : name);
  });

  it("checks the payload before the secret, so a parsed body is reported even with a bad secret", async () => {
    await expectVerificationError(
      verify({ secret: "", payload: {} as unknown as Payload, headers: {}, now }),
      "invalid_payload",
    );
  });
});

describe("generateSecret", () => {
  it("makes 32 random bytes by default, different each time", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
    expect(generateSecret()).not.toBe(secret);
  });

  it.each([24, 25, 31, 33, 63, 64])("makes %i bytes, usable by Hookline and the reference library", async (bytes) => {
    const secret = generateSecret({ bytes });
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(bytes);
    const headers = await sign({ secret, payload, id: "msg_1", timestamp: T });
    await expect(verify({ secret, payload, headers, now })).resolves.toMatchObject({ id: "msg_1" });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now);
    expect(new StandardWebhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  it.each([23, 65, 0, -32, 32.5, Number.NaN, Number.POSITIVE_INFINITY])(
    "rejects %d bytes with a HooklineError invalid_option",
    async (bytes) => {
      const error = await expectHooklineError(
        Promise.resolve().then(() => generateSecret({ bytes })),
        "invalid_option",
      );
      expect(error).not.toBeInstanceOf(WebhookVerificationError);
      expect(error).toBeInstanceOf(HooklineError);
      expect(error.message).toMatch(/24 to 64/);
    },
  );
});
