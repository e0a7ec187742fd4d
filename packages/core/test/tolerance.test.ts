import { WebhookVerificationError as StandardError, Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_TOLERANCE_SECONDS,
  github,
  sign,
  standardWebhooks,
  stripe,
  type Tolerance,
  verify,
  type WebhookScheme,
} from "../src";
import { expectHooklineError, expectVerificationError } from "./verification-helpers";

const T = 1_700_000_000;
const payload = '{"type":"ping"}';
const standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const stripeSecret = "whsec_stripe_tolerance";
const stripeClient = new Stripe("sk_test_hookline_no_network");

const schemes: [string, WebhookScheme, string][] = [
  ["standard-webhooks", standardWebhooks(), standardSecret],
  ["stripe", stripe(), stripeSecret],
];

/** Signs at T and verifies `offset` seconds later (negative: the message comes from the future). */
async function verifyAt(scheme: WebhookScheme, secret: string, offset: number, tolerance?: Tolerance) {
  const headers = await sign({ scheme, secret, payload, timestamp: T });
  return verify({ scheme, secret, payload, headers, tolerance, now: (T + offset) * 1000 });
}

afterEach(() => {
  vi.useRealTimers();
});

describe.each(schemes)("%s", (_, scheme, secret) => {
  it.each([
    ["the default tolerance", undefined, DEFAULT_TOLERANCE_SECONDS],
    ["a tolerance of 10 s", 10, 10],
    ["a tolerance of 0 s", 0, 0],
  ])("with %s, exactly ±tolerance passes and one second more fails", async (__, tolerance, seconds) => {
    await expect(verifyAt(scheme, secret, seconds, tolerance)).resolves.toMatchObject({ timestamp: T });
    await expect(verifyAt(scheme, secret, -seconds, tolerance)).resolves.toMatchObject({ timestamp: T });
    await expectVerificationError(verifyAt(scheme, secret, seconds + 1, tolerance), "timestamp_too_old");
    await expectVerificationError(verifyAt(scheme, secret, -(seconds + 1), tolerance), "timestamp_too_new");
  });

  it("applies { past, future } asymmetrically", async () => {
    const tolerance = { past: 600, future: 5 };
    await expect(verifyAt(scheme, secret, 600, tolerance)).resolves.toBeDefined();
    await expect(verifyAt(scheme, secret, -5, tolerance)).resolves.toBeDefined();
    await expectVerificationError(verifyAt(scheme, secret, 601, tolerance), "timestamp_too_old");
    await expectVerificationError(verifyAt(scheme, secret, -6, tolerance), "timestamp_too_new");
  });

  it("takes now as a Date or as milliseconds, with the same result", async () => {
    const headers = await sign({ scheme, secret, payload, timestamp: T });
    const outcome = (now: number | Date) =>
      verify({ scheme, secret, payload, headers, now }).then(
        () => "ok",
        (error: { code: string }) => error.code,
      );
    for (const [offset, expected] of [
      [-301, "timestamp_too_new"],
      [0, "ok"],
      [300, "ok"],
      [301, "timestamp_too_old"],
    ] as const) {
      const ms = (T + offset) * 1000;
      expect([await outcome(ms), await outcome(new Date(ms))]).toEqual([expected, expected]);
    }
  });

  it("floors now to whole seconds, as the peers do", async () => {
    const headers = await sign({ scheme, secret, payload, timestamp: T });
    await expect(verify({ scheme, secret, payload, headers, now: (T + 300) * 1000 + 999 })).resolves.toBeDefined();
  });

  it("uses the current clock when now is omitted", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const headers = await sign({ scheme, secret, payload, timestamp: T });
    vi.setSystemTime((T + 300) * 1000);
    await expect(verify({ scheme, secret, payload, headers })).resolves.toBeDefined();
    vi.setSystemTime((T + 301) * 1000);
    await expectVerificationError(verify({ scheme, secret, payload, headers }), "timestamp_too_old");
  });

  it("checks the timestamp before the signature, so a stale forgery reports its age", async () => {
    const headers = await sign({ scheme, secret, payload, timestamp: T - 3600 });
    await expectVerificationError(
      verify({ scheme, secret, payload: `${payload} `, headers, now: T * 1000 }),
      "timestamp_too_old",
    );
  });

  it.each<[string, Tolerance]>([
    ["a negative tolerance", -1],
    ["NaN", Number.NaN],
    ["a missing direction", { past: 10 } as Tolerance],
    ["a negative direction", { past: 10, future: -1 }],
  ])("rejects %s as invalid_option", async (__, tolerance) => {
    await expectHooklineError(verifyAt(scheme, secret, 0, tolerance), "invalid_option");
  });

  it.each([
    ["NaN", Number.NaN],
    ["an invalid Date", new Date("not a date")],
  ])("rejects now = %s as invalid_option", async (__, now) => {
    const headers = await sign({ scheme, secret, payload, timestamp: T });
    await expectHooklineError(verify({ scheme, secret, payload, headers, now }), "invalid_option");
  });
});

describe("agreement with the peers at the boundary", () => {
  it("standardwebhooks accepts and rejects at the same ages as Hookline", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const headers = await sign({ secret: standardSecret, payload, timestamp: T });
    for (const offset of [-301, -300, 300, 301]) {
      vi.setSystemTime((T + offset) * 1000);
      const hookline = await verify({ secret: standardSecret, payload, headers }).then(
        () => true,
        () => false,
      );
      let peer = true;
      try {
        new StandardWebhook(standardSecret).verify(payload, headers);
      } catch (error) {
        expect(error).toBeInstanceOf(StandardError);
        peer = false;
      }
      expect({ offset, hookline }).toEqual({ offset, hookline: peer });
    }
  });

  it("Stripe's receivedAt and Hookline's now agree on the past side, including sub-second times", async () => {
    const { "stripe-signature": header } = await sign({
      scheme: stripe(),
      secret: stripeSecret,
      payload,
      timestamp: T,
    });
    for (const [receivedAt, accepted] of [
      [(T + 300) * 1000 + 999, true],
      [(T + 301) * 1000, false],
    ] as const) {
      const peer = () =>
        stripeClient.webhooks.constructEvent(payload, header!, stripeSecret, 300, undefined, receivedAt);
      if (accepted) expect(peer()).toEqual(JSON.parse(payload));
      else expect(peer).toThrow(Stripe.errors.StripeSignatureVerificationError);
      const hookline = verify({
        scheme: stripe(),
        secret: stripeSecret,
        payload,
        headers: { "stripe-signature": header! },
        now: receivedAt,
      });
      if (accepted) await expect(hookline).resolves.toBeDefined();
      else await expectVerificationError(hookline, "timestamp_too_old");
    }
  });

  it("unlike Stripe's library, Hookline also bounds timestamps from the future", async () => {
    const future = T + 3600;
    const header = stripeClient.webhooks.generateTestHeaderString({ payload, secret: stripeSecret, timestamp: future });
    const receivedAt = T * 1000;
    expect(stripeClient.webhooks.constructEvent(payload, header, stripeSecret, 300, undefined, receivedAt)).toEqual(
      JSON.parse(payload),
    );
    await expectVerificationError(
      verify({
        scheme: stripe(),
        secret: stripeSecret,
        payload,
        headers: { "stripe-signature": header },
        now: receivedAt,
      }),
      "timestamp_too_new",
    );
  });
});

describe("timestamp headers", () => {
  const signedAt = async () => sign({ secret: standardSecret, payload, timestamp: T });

  it.each([
    "",
    "hello",
    "1700000000.5",
    "-1700000000",
    "+1700000000",
    "0x6553f100",
    "1.7e9",
    "1700000000abc",
    "1".repeat(13),
  ])("rejects webhook-timestamp %j as invalid_timestamp (or missing when blank)", async (value) => {
    const headers = { ...(await signedAt()), "webhook-timestamp": value };
    await expectVerificationError(
      verify({ secret: standardSecret, payload, headers, now: T * 1000 }),
      value === "" ? "missing_header" : "invalid_timestamp",
    );
  });

  it.each(["t=1700000000.5", "t=abc", "t=", "t=-5"])("rejects stripe-signature %s as invalid_timestamp", async (t) => {
    const { "stripe-signature": header } = await sign({
      scheme: stripe(),
      secret: stripeSecret,
      payload,
      timestamp: T,
    });
    const headers = { "stripe-signature": header!.replace(`t=${T}`, t) };
    await expectVerificationError(
      verify({ scheme: stripe(), secret: stripeSecret, payload, headers, now: T * 1000 }),
      "invalid_timestamp",
    );
  });

  it("accepts surrounding whitespace and leading zeros, as the reference library's parseInt does", async () => {
    const headers = await signedAt();
    for (const value of [` ${T} `, `0${T}`]) {
      await expect(
        verify({ secret: standardSecret, payload, headers: { ...headers, "webhook-timestamp": value }, now: T * 1000 }),
      ).resolves.toMatchObject({ timestamp: T });
    }
  });

  it("GitHub carries no timestamp, so tolerance never applies", async () => {
    const headers = await sign({ scheme: github(), secret: "s3cret", payload, timestamp: T });
    await expect(
      verify({ scheme: github(), secret: "s3cret", payload, headers, tolerance: 0, now: (T + 86_400 * 365) * 1000 }),
    ).resolves.not.toHaveProperty("timestamp");
  });
});
