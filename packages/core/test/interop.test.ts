// Interop with the real peer libraries, both directions: Hookline signs → peer verifies, peer signs → Hookline
// verifies, over payloads that break anything that re-serializes or re-encodes the body.
import { sign as octokitSign, verify as octokitVerify, verifyWithFallback } from "@octokit/webhooks-methods";
import { WebhookVerificationError as StandardError, Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { WebhookVerificationError as SvixError, Webhook as SvixWebhook } from "svix";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { github, type Payload, sign, standardWebhooks, stripe, verify, type WebhookScheme } from "../src";
import { expectVerificationError, utf8 } from "./verification-helpers";

const T = 1_700_000_000;
const id = "msg_2bXoBZGxCoTuDtWDrZ3NzGPw2Cd";

// Peers read the clock themselves (svix and standardwebhooks have no `now` option): pin it to T.
beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T * 1000);
});
afterAll(() => {
  vi.useRealTimers();
});

/** Bodies that survive only when every side signs exactly the bytes on the wire; all valid JSON, as peers parse. */
const payloads: [string, string][] = [
  ["odd whitespace", '{ "a" :\t1 ,\n  "b" : [ 1 , 2 ]   }\n\n'],
  ["unicode", '{"name":"Zoë é 漢字 🎉"}'],
  ["decomposed unicode", '{"name":"Zoe\u0308 e\u0301"}'],
  ["escaped unicode", '{"name":"Zo\\u00eb \\u6f22\\u5b57 \\ud83c\\udf89","slash":"a\\/b"}'],
  ["duplicate keys", '{"type":"a","type":"b"}'],
  ["CRLF", '{\r\n  "type": "invoice.paid"\r\n}\r\n'],
  ["numbers", '{"amount":1.50,"count":1e2,"zero":-0.0,"big":12345678901234567890}'],
];

const forms: [string, (text: string) => Payload][] = [
  ["string", (text) => text],
  ["bytes", utf8],
];

const cases = payloads.flatMap(([name, text]) =>
  forms.map(([form, encode]) => [`${name} as ${form}`, text, encode] as const),
);

interface Peer {
  name: string;
  scheme: WebhookScheme;
  /** Three secrets valid for this peer: [current, previous, unrelated]. */
  secrets: readonly [string, string, string];
  /** Whether one message carries a signature per secret, so a peer holding either secret accepts it. */
  multiSignature: boolean;
  /** Whether the scheme carries the message id. */
  carriesId: boolean;
  /** The peer signs the text; returns the headers a receiver sees. */
  sign(text: string, secret: string): Promise<Record<string, string>>;
  /** Whether the peer accepts the message: false on its verification failure, anything else rethrown. */
  accepts(payload: Payload, headers: Record<string, string>, secret: string): Promise<boolean>;
}

const asBuffer = (payload: Payload): string | Buffer =>
  typeof payload === "string" ? payload : Buffer.from(payload as Uint8Array);
const asText = (payload: Payload): string =>
  typeof payload === "string" ? payload : new TextDecoder().decode(payload as Uint8Array);

async function failsWith(errorType: abstract new (...args: never[]) => Error, check: () => unknown): Promise<boolean> {
  try {
    await check();
    return true;
  } catch (error) {
    if (error instanceof errorType) return false;
    throw error;
  }
}

const standardSecrets = [
  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  "whsec_Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
  "whsec_dW5yZWxhdGVkIHNlY3JldCwgMzIgYnl0ZXMgbG9uZyE=",
] as const;
const stripeClient = new Stripe("sk_test_hookline_no_network");

const peers: Peer[] = [
  {
    name: "standardwebhooks",
    scheme: standardWebhooks(),
    secrets: standardSecrets,
    multiSignature: true,
    carriesId: true,
    async sign(text, secret) {
      const signature = new StandardWebhook(secret).sign(id, new Date(T * 1000), text);
      return { "webhook-id": id, "webhook-timestamp": String(T), "webhook-signature": signature };
    },
    accepts: (payload, headers, secret) =>
      failsWith(StandardError, () => new StandardWebhook(secret).verify(asBuffer(payload), headers)),
  },
  {
    name: "svix",
    scheme: standardWebhooks({ headerPrefix: "svix" }),
    secrets: standardSecrets,
    multiSignature: true,
    carriesId: true,
    async sign(text, secret) {
      const signature = new SvixWebhook(secret).sign(id, new Date(T * 1000), text);
      return { "svix-id": id, "svix-timestamp": String(T), "svix-signature": signature };
    },
    accepts: (payload, headers, secret) =>
      failsWith(SvixError, () => new SvixWebhook(secret).verify(asBuffer(payload), headers)),
  },
  {
    name: "stripe",
    scheme: stripe(),
    secrets: ["whsec_stripe_current_Zq8x", "whsec_stripe_previous_1f3G", "whsec_stripe_unrelated_9kLm"],
    multiSignature: true,
    carriesId: false,
    async sign(text, secret) {
      return {
        "stripe-signature": stripeClient.webhooks.generateTestHeaderString({ payload: text, secret, timestamp: T }),
      };
    },
    async accepts(payload, headers, secret) {
      const body = typeof payload === "string" ? payload : new Uint8Array(payload as Uint8Array);
      const header = headers["stripe-signature"]!;
      const sync = await failsWith(Stripe.errors.StripeSignatureVerificationError, () =>
        stripeClient.webhooks.constructEvent(body, header, secret),
      );
      const async = await failsWith(Stripe.errors.StripeSignatureVerificationError, () =>
        stripeClient.webhooks.constructEventAsync(body, header, secret),
      );
      expect(async).toBe(sync);
      return sync;
    },
  },
  {
    name: "@octokit/webhooks-methods",
    scheme: github(),
    secrets: ["It's a Secret to Everybody", "sécret 🔑 précédent", "unrelated"],
    multiSignature: false,
    carriesId: true,
    async sign(text, secret) {
      return { "x-hub-signature-256": await octokitSign(secret, text), "x-github-delivery": id };
    },
    // octokit takes text only: a receiver holding bytes decodes them first.
    accepts: (payload, headers, secret) => octokitVerify(secret, asText(payload), headers["x-hub-signature-256"]!),
  },
];

describe.each(peers)("$name", (peer) => {
  const [current, previous, unrelated] = peer.secrets;
  const expected = (text: string) => ({ payload: text, ...(peer.carriesId ? { id } : {}) });

  it.each(cases)("Hookline signs %s → the peer verifies", async (_, text, encode) => {
    const headers = await sign({ scheme: peer.scheme, secret: current, payload: encode(text), id, timestamp: T });
    expect(await peer.accepts(encode(text), headers, current)).toBe(true);
  });

  it.each(cases)("the peer signs %s → Hookline verifies", async (_, text, encode) => {
    const headers = await peer.sign(text, current);
    const result = await verify({
      scheme: peer.scheme,
      secret: current,
      payload: encode(text),
      headers,
      now: T * 1000,
    });
    expect(result).toMatchObject(expected(text));
  });

  const changedByReserializing = payloads.filter(([, text]) => JSON.stringify(JSON.parse(text)) !== text);

  it.each(changedByReserializing)("neither side accepts %s after JSON re-serialization", async (_, text) => {
    const reserialized = JSON.stringify(JSON.parse(text));
    const hooklineHeaders = await sign({ scheme: peer.scheme, secret: current, payload: text, id, timestamp: T });
    expect(await peer.accepts(reserialized, hooklineHeaders, current)).toBe(false);
    const peerHeaders = await peer.sign(text, current);
    await expectVerificationError(
      verify({ scheme: peer.scheme, secret: current, payload: reserialized, headers: peerHeaders, now: T * 1000 }),
      "no_matching_signature",
    );
  });

  it("rotation: signed with [current, previous], accepted by a peer holding either if the header carries both", async () => {
    const text = payloads[1]![1];
    const headers = await sign({ scheme: peer.scheme, secret: [current, previous], payload: text, id, timestamp: T });
    expect(await peer.accepts(text, headers, current)).toBe(true);
    expect(await peer.accepts(text, headers, previous)).toBe(peer.multiSignature);
  });

  it("rotation: Hookline verifies a peer's message with an array of secrets where only one matches", async () => {
    const text = payloads[0]![1];
    const headers = await peer.sign(text, previous);
    for (const secrets of [
      [current, previous],
      [previous, current],
    ]) {
      await expect(
        verify({ scheme: peer.scheme, secret: secrets, payload: text, headers, now: T * 1000 }),
      ).resolves.toMatchObject(expected(text));
    }
    const error = await expectVerificationError(
      verify({ scheme: peer.scheme, secret: [current, unrelated], payload: text, headers, now: T * 1000 }),
      "no_matching_signature",
    );
    expect(error.message).toContain("secrets");
  });
});

describe("peer specifics", () => {
  it("svix also verifies Hookline's default webhook-* headers, and Hookline verifies both namings", async () => {
    const [secret] = standardSecrets;
    const text = payloads[1]![1];
    const headers = await sign({ secret, payload: text, id, timestamp: T });
    expect(new SvixWebhook(secret).verify(text, headers)).toEqual(JSON.parse(text));
    const svixHeaders = await sign({ scheme: standardWebhooks({ headerPrefix: "svix" }), secret, payload: text, id });
    await expect(verify({ secret, payload: text, headers: svixHeaders })).resolves.toMatchObject({ id });
  });

  it("octokit's verifyWithFallback accepts a rotated GitHub signature (which carries the current secret only)", async () => {
    const [current, previous] = peers[3]!.secrets;
    const text = payloads[0]![1];
    const headers = await sign({ scheme: github(), secret: [current, previous], payload: text, id });
    expect(await verifyWithFallback(previous, text, headers["x-hub-signature-256"]!, [current])).toBe(true);
  });

  // standardwebhooks, svix and stripe decode bytes to a string first, so invalid UTF-8 becomes U+FFFD before signing.
  it("bytes that are not UTF-8: Hookline signs them raw, peers sign their lossy UTF-8 decoding", async () => {
    const bytes = Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d); // {"\xff\xfe"}
    for (const peer of peers.slice(0, 3)) {
      const [secret] = peer.secrets;
      const headers = await sign({ scheme: peer.scheme, secret, payload: bytes, id, timestamp: T });
      await expect(verify({ scheme: peer.scheme, secret, payload: bytes, headers })).resolves.toBeDefined();
      const peerHeaders = await peer.sign(new TextDecoder().decode(bytes), secret);
      await expectVerificationError(
        verify({ scheme: peer.scheme, secret, payload: bytes, headers: peerHeaders }),
        "no_matching_signature",
      );
    }
  });
});
