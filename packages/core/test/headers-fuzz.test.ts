import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  generateKeyPair,
  github,
  type HeadersInput,
  hmac,
  sign,
  standardWebhooks,
  stripe,
  verify,
  type WebhookScheme,
  WebhookVerificationError,
} from "../src";
import { expectVerificationError, upperCaseNames } from "./verification-helpers";

const T = 1_700_000_000;
const now = T * 1000;
const payload = '{"type":"order.created","total":"1.50"}';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

// Any header value: printable ASCII, full unicode (lone surrogates included), and very long.
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.string({ minLength: 1_000, maxLength: 20_000 }),
);
const nearTimestamp = fc.integer({ min: T - 400, max: T + 400 }).map(String);
const timestampValue = fc.oneof(nearTimestamp, fc.stringMatching(/^\s*\d{0,14}\s*$/), anyString);

// Values shaped like each scheme's signature, with random contents, so parsing passes and the comparisons run.
const standardSignature = fc
  .array(
    fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `v1,${b64(bytes)}`),
      fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes) => `v1a,${b64(bytes)}`),
      fc.stringMatching(/^v[0-9a-z]{0,3},[A-Za-z0-9+/=,]*$/),
      anyString,
    ),
    { minLength: 1, maxLength: 5 },
  )
  .chain((entries) => fc.constantFrom(" ", ", ", ",", "  ").map((separator) => entries.join(separator)));
const stripeSignature = fc.oneof(
  fc
    .tuple(
      fc.oneof(nearTimestamp, anyString),
      fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 3 }),
    )
    .map(([t, signatures]) => [`t=${t}`, ...signatures.map((s) => `v1=${hex(s)}`)].join(",")),
  fc.stringMatching(/^((t|v0|v1|\s*v1\s*)=[^,]*,?){0,4}$/),
  anyString,
);
const hexSignature = (prefix: string) =>
  fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => prefix + hex(bytes)),
    fc.stringMatching(/^[0-9a-fA-F]{64}$/).map((digits) => prefix + digits),
    fc.stringMatching(/^(sha256=|sha1=|SHA256=)?[0-9a-f]{0,70}$/),
    anyString,
  );
const base64Signature = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b64),
  fc.base64String(),
  anyString,
);

interface FuzzTarget {
  name: string;
  scheme: WebhookScheme;
  secrets: () => string[];
  /** The headers the scheme reads, each with values to throw at it. */
  headers: Record<string, fc.Arbitrary<string>>;
}

let publicKey = "";
beforeAll(async () => {
  publicKey = (await generateKeyPair()).publicKey;
});

const targets: FuzzTarget[] = [
  {
    name: "standard-webhooks",
    scheme: standardWebhooks(),
    // A whpk_ key too, so random v1a entries reach Ed25519 verification.
    secrets: () => ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", publicKey],
    headers: {
      "webhook-id": fc.oneof(fc.constant("msg_p5jXN8AQM9LWM0D4loKWxJek"), anyString),
      "webhook-timestamp": timestampValue,
      "webhook-signature": standardSignature,
      "svix-id": anyString,
      "svix-timestamp": timestampValue,
      "svix-signature": standardSignature,
    },
  },
  {
    name: "stripe",
    scheme: stripe(),
    secrets: () => ["whsec_stripe_fuzz"],
    headers: { "stripe-signature": stripeSignature },
  },
  {
    name: "github",
    scheme: github(),
    secrets: () => ["It's a Secret to Everybody"],
    headers: { "x-hub-signature-256": hexSignature("sha256="), "x-github-delivery": anyString },
  },
  {
    name: "hmac (shopify, base64)",
    scheme: hmac({ header: "X-Shopify-Hmac-Sha256", encoding: "base64", idHeader: "X-Shopify-Webhook-Id" }),
    secrets: () => ["shpss_fuzz"],
    headers: { "x-shopify-hmac-sha256": base64Signature, "x-shopify-webhook-id": anyString },
  },
  {
    name: "hmac (prefixed hex)",
    scheme: hmac({ header: "x-webhook-signature", prefix: "sha256=" }),
    secrets: () => ["hmac_fuzz"],
    headers: { "x-webhook-signature": hexSignature("sha256=") },
  },
];

type HeaderValue = string | string[] | undefined;

/** Each known header absent, a string or repeated, under a name in random case; plus random extra headers. */
function headerRecord(target: FuzzTarget): fc.Arbitrary<Record<string, HeaderValue>> {
  const entries = Object.entries(target.headers).map(([name, value]) =>
    fc.tuple(
      fc.mixedCase(fc.constant(name)),
      fc.option(
        fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: fc.array(value, { maxLength: 3 }) }),
        {
          nil: undefined,
          freq: 5,
        },
      ),
    ),
  );
  const extra = fc.dictionary(anyString, fc.oneof(anyString, fc.array(anyString, { maxLength: 3 })), { maxKeys: 4 });
  return fc.tuple(fc.tuple(...entries), extra).map(([known, others]) => ({ ...others, ...Object.fromEntries(known) }));
}

const codes = [
  "missing_header",
  "malformed_header",
  "invalid_timestamp",
  "timestamp_too_old",
  "timestamp_too_new",
  "no_matching_signature",
];

/**
 * Verification of forged headers must reject, and only ever with a WebhookVerificationError about the headers.
 * Returns the code, so a property can check it reached the signature comparison.
 */
async function rejectsCleanly(target: FuzzTarget, headers: HeadersInput): Promise<string> {
  const outcome = await verify({ scheme: target.scheme, secret: target.secrets(), payload, headers, now }).then(
    () => "resolved",
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(WebhookVerificationError);
  const { code } = outcome as WebhookVerificationError;
  expect(codes).toContain(code);
  return code;
}

describe.each(targets)("fuzzing $name headers", (target) => {
  it("rejects scheme-shaped headers with random contents, reaching the signature comparison", async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(headerRecord(target), async (headers) => {
        seen.add(await rejectsCleanly(target, headers));
      }),
      { numRuns: 300 },
    );
    expect(seen).toContain("no_matching_signature");
    expect(seen).toContain("missing_header");
  });

  it("rejects arbitrary header records", async () => {
    const anyRecord = fc.dictionary(
      fc.oneof(fc.constantFrom(...Object.keys(target.headers)), anyString),
      fc.oneof(anyString, fc.array(anyString, { maxLength: 3 })),
    );
    await fc.assert(
      fc.asyncProperty(anyRecord, async (headers) => {
        await rejectsCleanly(target, headers);
      }),
    );
  });

  it("rejects printable headers given as a Fetch Headers", async () => {
    const printable = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/);
    const value = fc.oneof(
      printable,
      ...Object.values(target.headers).map((arb) => arb.filter((v) => /^[\x21-\x7e]+$/.test(v))),
    );
    const entries = fc.array(fc.tuple(fc.constantFrom(...Object.keys(target.headers)), value), { maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(entries, async (list) => {
        const headers = new Headers();
        for (const [name, v] of list) headers.append(name, v);
        await rejectsCleanly(target, headers);
      }),
    );
  });
});

const shapeTargets: [string, WebhookScheme, string][] = [
  ["standard-webhooks", standardWebhooks(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
  [
    "standard-webhooks (svix names)",
    standardWebhooks({ headerPrefix: "svix" }),
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  ],
  ["stripe", stripe(), "whsec_stripe_shapes"],
  ["github", github(), "It's a Secret to Everybody"],
  [
    "hmac (shopify)",
    hmac({ header: "x-shopify-hmac-sha256", encoding: "base64", idHeader: "x-shopify-webhook-id" }),
    "shpss_shapes",
  ],
];

describe.each(shapeTargets)("%s headers in every shape", (_, scheme, secret) => {
  const signed = () => sign({ scheme, secret, payload, id: "msg_shapes", timestamp: T });
  const check = (headers: HeadersInput) => verify({ scheme, secret, payload, headers, now });

  it.each<[string, (headers: Record<string, string>) => HeadersInput]>([
    ["a plain record", (headers) => headers],
    ["a Fetch Headers", (headers) => new Headers(headers)],
    ["a record with upper-case names", upperCaseNames],
    [
      "a record with mixed-case names",
      (headers) =>
        Object.fromEntries(
          Object.entries(headers).map(([name, value]) => [name.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase()), value]),
        ),
    ],
    [
      "a record of string[] (Node's headersDistinct)",
      (headers) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    ],
  ])("verifies %s", async (__, shape) => {
    const result = await check(shape(await signed()));
    expect(result.payload).toBe(payload);
    if (!scheme.name.startsWith("stripe")) expect(result.id).toBe("msg_shapes");
  });

  it("treats an empty string[] as a missing header", async () => {
    const headers = Object.fromEntries(Object.entries(await signed()).map(([name]) => [name, [] as string[]]));
    await expectVerificationError(check(headers), "missing_header");
  });
});

describe("repeated signature headers", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const stranger = "whsec_Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

  it("Standard Webhooks: a valid signature in any of several webhook-signature headers verifies", async () => {
    const mine = await sign({ secret, payload, id: "msg_1", timestamp: T });
    const theirs = await sign({ secret: stranger, payload, id: "msg_1", timestamp: T });
    for (const order of [
      [theirs, mine],
      [mine, theirs],
    ]) {
      const values = order.map((headers) => headers["webhook-signature"]!);
      await expect(
        verify({ secret, payload, headers: { ...mine, "webhook-signature": values }, now }),
      ).resolves.toMatchObject({ id: "msg_1" });
      const fetchHeaders = new Headers(mine);
      fetchHeaders.delete("webhook-signature");
      for (const value of values) fetchHeaders.append("webhook-signature", value);
      await expect(verify({ secret, payload, headers: fetchHeaders, now })).resolves.toMatchObject({ id: "msg_1" });
    }
  });

  it("Stripe: a valid v1 in any of several stripe-signature headers verifies", async () => {
    const scheme = stripe();
    const mine = await sign({ scheme, secret: "whsec_a", payload, timestamp: T });
    const theirs = await sign({ scheme, secret: "whsec_b", payload, timestamp: T });
    const headers = { "stripe-signature": [theirs["stripe-signature"]!, mine["stripe-signature"]!] };
    await expect(verify({ scheme, secret: "whsec_a", payload, headers, now })).resolves.toMatchObject({ timestamp: T });
  });

  it("prefers webhook-* over svix-* when both are present", async () => {
    const webhook = await sign({ secret, payload, id: "msg_webhook", timestamp: T });
    const svix = await sign({
      scheme: standardWebhooks({ headerPrefix: "svix" }),
      secret,
      payload,
      id: "msg_svix",
      timestamp: T,
    });
    await expect(verify({ secret, payload, headers: { ...svix, ...webhook }, now })).resolves.toMatchObject({
      id: "msg_webhook",
    });
  });
});
