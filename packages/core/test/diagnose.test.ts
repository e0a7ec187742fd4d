import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diagnose, generateKeyPair, generateSecret, github, sign, standardWebhooks, stripe, verify } from "../src";

const secret = generateSecret();
const body = JSON.stringify({ type: "invoice.paid", data: { id: "in_1", amountCents: 4200 } });
const now = Date.UTC(2026, 0, 1);
const nowSeconds = now / 1000;

async function signed(payload = body, options: { timestamp?: number; scheme?: ReturnType<typeof stripe> } = {}) {
  return sign({ secret, payload, id: "msg_1", timestamp: options.timestamp ?? nowSeconds, scheme: options.scheme });
}

describe("diagnose", () => {
  it("says valid, with the id, timestamp and skew, when verify accepts", async () => {
    const headers = await signed();
    expect(await diagnose({ secret, payload: body, headers, now })).toEqual({
      valid: true,
      message: "valid",
      hints: [],
      id: "msg_1",
      timestamp: nowSeconds,
      skewSeconds: 0,
    });
  });

  it("gives the clock skew in seconds and says the signature itself is valid", async () => {
    const headers = await signed(body, { timestamp: nowSeconds - 3600 });
    const diagnosis = await diagnose({ secret, payload: body, headers, now });
    expect(diagnosis).toMatchObject({
      valid: false,
      code: "timestamp_too_old",
      skewSeconds: 3600,
      timestamp: nowSeconds - 3600,
    });
    expect(diagnosis.hints[0]).toContain("3600 s (60 min) ago, beyond the 300 s tolerance");
    expect(diagnosis.hints[1]).toBe("The signature itself is valid: only the time is off");

    const ahead = await diagnose({
      secret,
      payload: body,
      headers: await signed(body, { timestamp: nowSeconds + 900 }),
      now,
    });
    expect(ahead).toMatchObject({ code: "timestamp_too_new", skewSeconds: -900 });
    expect(ahead.hints[0]).toContain("in the future");
  });

  it("finds a trailing newline added after signing", async () => {
    const headers = await signed();
    const diagnosis = await diagnose({ secret, payload: `${body}\n`, headers, now });
    expect(diagnosis).toMatchObject({ valid: false, code: "no_matching_signature" });
    expect(diagnosis.hints).toEqual([expect.stringContaining("gained a trailing newline")]);
  });

  it("finds JSON re-serialized after signing", async () => {
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    const headers = await signed(pretty);
    const diagnosis = await diagnose({ secret, payload: body, headers, now });
    expect(diagnosis.hints).toEqual([expect.stringContaining("re-serialized")]);
  });

  it("finds whitespace around the secret", async () => {
    const headers = await signed();
    const diagnosis = await diagnose({ secret: `${secret}\n`, payload: body, headers, now });
    expect(diagnosis).toMatchObject({ code: "invalid_secret", hints: [expect.stringContaining("whitespace")] });
    // Secrets that are not base64 (Stripe's) still sign with the space; the trimmed one matches.
    const stripeHeaders = await signed(body, { scheme: stripe() });
    const untrimmed = await diagnose({
      scheme: stripe(),
      secret: ` ${secret}`,
      payload: body,
      headers: stripeHeaders,
      now,
    });
    expect(untrimmed).toMatchObject({ code: "no_matching_signature", hints: [expect.stringContaining("whitespace")] });
  });

  it("says no signature was made with this secret when nothing else explains it", async () => {
    const headers = await signed();
    const diagnosis = await diagnose({ secret: generateSecret(), payload: body, headers, now });
    expect(diagnosis.code).toBe("no_matching_signature");
    expect(diagnosis.hints[0]).toContain("No signature was made with this secret");
  });

  it("recognises a header under the other prefix, and another scheme's headers", async () => {
    const headers = await signed();
    const mixed = {
      "svix-id": headers["webhook-id"]!,
      "webhook-timestamp": headers["webhook-timestamp"]!,
      "webhook-signature": headers["webhook-signature"]!,
    };
    const diagnosis = await diagnose({ secret, payload: body, headers: mixed, now });
    expect(diagnosis.code).toBe("missing_header");
    expect(diagnosis.hints).toEqual([expect.stringContaining("svix-id is present but webhook-id is not")]);

    const stripeHeaders = await signed(body, { scheme: stripe() });
    const wrongScheme = await diagnose({ secret, payload: body, headers: stripeHeaders, now });
    expect(wrongScheme.hints).toEqual([expect.stringContaining("stripe-signature, the stripe scheme's header")]);

    const githubHeaders = await sign({ scheme: github(), secret, payload: body });
    const asStripe = await diagnose({ scheme: stripe(), secret, payload: body, headers: githubHeaders, now });
    expect(asStripe.hints).toEqual([expect.stringContaining("x-hub-signature-256, the github scheme's header")]);
  });

  it("says Ed25519 signatures need the public key", async () => {
    const pair = await generateKeyPair();
    const headers = await sign({ secret: pair.secretKey, payload: body, timestamp: nowSeconds });
    const diagnosis = await diagnose({ secret, payload: body, headers, now });
    expect(diagnosis.hints).toEqual([expect.stringContaining("whpk_ public key")]);
    expect((await diagnose({ secret: pair.publicKey, payload: body, headers, now })).valid).toBe(true);
  });

  it("agrees with verify on any body and any tampering", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (signedBody, sentBody) => {
        const headers = await sign({ scheme: standardWebhooks(), secret, payload: signedBody, timestamp: nowSeconds });
        const verified = await verify({ secret, payload: sentBody, headers, now }).then(
          () => true,
          () => false,
        );
        const diagnosis = await diagnose({ secret, payload: sentBody, headers, now });
        expect(diagnosis.valid).toBe(verified);
        if (!verified) expect(diagnosis.hints.length).toBeGreaterThan(0);
      }),
      { numRuns: 100 },
    );
  });
});
