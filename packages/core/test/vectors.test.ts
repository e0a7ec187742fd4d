// The Standard Webhooks reference vector and the reference library's own test cases
// (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts), each mapped to our error codes.
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { sign, verify, type WebhookVerificationErrorCode } from "../src";
import { expectVerificationError, vector } from "./verification-helpers";

const { secret, id, timestamp, payload, signature } = vector;
const bareSecret = secret.slice("whsec_".length);
const now = timestamp * 1000;
const validHeaders = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };

/** The reference headers with some replaced, or removed when given `undefined`. */
function headersWith(changes: Partial<Record<keyof typeof validHeaders, string | undefined>>): Record<string, string> {
  const headers: Record<string, string | undefined> = { ...validHeaders, ...changes };
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >;
}

describe("the reference vector", () => {
  it("is what the reference library itself computes", () => {
    expect(new Webhook(secret).sign(id, new Date(timestamp * 1000), payload)).toBe(signature);
  });

  it.each([
    ["a Date", new Date(timestamp * 1000)],
    ["unix seconds", timestamp],
  ])("signs to the expected header with the timestamp as %s", async (_, when) => {
    expect(await sign({ secret, id, timestamp: when, payload })).toEqual(validHeaders);
  });

  it("signs with the bare base64 secret (no whsec_ prefix) identically", async () => {
    expect(await sign({ secret: bareSecret, id, timestamp, payload })).toEqual(validHeaders);
  });

  it("verifies, returning id, timestamp and the payload text", async () => {
    await expect(verify({ secret, payload, headers: validHeaders, now })).resolves.toEqual({ id, timestamp, payload });
  });

  it("verifies a message Hookline signed itself at the current time", async () => {
    const headers = await sign({ secret, payload });
    const result = await verify({ secret, payload, headers });
    expect(result.id).toMatch(/^msg_[0-9A-Za-z]{24}$/);
    expect(result.timestamp).toBe(Number(headers["webhook-timestamp"]));
  });
});

describe("the reference library's cases", () => {
  const rejected: [string, Record<string, string>, WebhookVerificationErrorCode][] = [
    ["missing id", headersWith({ "webhook-id": undefined }), "missing_header"],
    ["missing timestamp", headersWith({ "webhook-timestamp": undefined }), "missing_header"],
    ["missing signature", headersWith({ "webhook-signature": undefined }), "missing_header"],
    ["invalid timestamp", headersWith({ "webhook-timestamp": "hello" }), "invalid_timestamp"],
    ["invalid signature", headersWith({ "webhook-signature": "v1,dawfeoifkpqwoekfpqoekf" }), "no_matching_signature"],
    ["partial signature", headersWith({ "webhook-signature": signature.slice(0, 8) }), "no_matching_signature"],
    ["empty signature", headersWith({ "webhook-signature": "v1," }), "no_matching_signature"],
    [
      "signature truncated by one char",
      headersWith({ "webhook-signature": signature.slice(0, -1) }),
      "no_matching_signature",
    ],
    [
      "only other versions",
      headersWith({ "webhook-signature": signature.replace("v1,", "v2,") }),
      "no_matching_signature",
    ],
    ["no version,signature entry", headersWith({ "webhook-signature": "g0hM9SsE" }), "malformed_header"],
  ];

  it.each(rejected)("%s → %s", async (_, headers, code) => {
    await expectVerificationError(verify({ secret, payload, headers, now }), code);
  });

  it.each([
    ["old", -(300 + 1), "timestamp_too_old"],
    ["new", 300 + 1, "timestamp_too_new"],
  ] as const)("%s timestamp (beyond the default 300 s) → %s", async (_, offset, code) => {
    const signedAt = timestamp + offset;
    const headers = await sign({ secret, id, timestamp: signedAt, payload });
    await expectVerificationError(verify({ secret, payload, headers, now }), code);
  });

  it("accepts several signatures when one is valid, skipping other versions", async () => {
    const other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    const headers = headersWith({
      "webhook-signature": [other, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", signature, other].join(" "),
    });
    await expect(verify({ secret, payload, headers, now })).resolves.toMatchObject({ id, timestamp });
  });

  it.each([
    ["with", secret],
    ["without", bareSecret],
  ])("verifies %s the whsec_ prefix", async (_, key) => {
    await expect(verify({ secret: key, payload, headers: validHeaders, now })).resolves.toMatchObject({ id });
  });

  it.each([
    ["an empty secret", ""],
    ['"whsec_" alone', "whsec_"],
  ])("rejects %s as invalid_secret", async (_, key) => {
    await expectVerificationError(verify({ secret: key, payload, headers: validHeaders, now }), "invalid_secret");
  });

  it("rejects the right signature over a different payload", async () => {
    await expectVerificationError(
      verify({ secret, payload: '{"test": 2432232315}', headers: validHeaders, now }),
      "no_matching_signature",
    );
  });

  it("rejects the right signature with a different secret", async () => {
    await expectVerificationError(
      verify({ secret: "whsec_Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", payload, headers: validHeaders, now }),
      "no_matching_signature",
    );
  });
});
