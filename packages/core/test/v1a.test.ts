// Standard Webhooks v1a: Ed25519 with whsk_ (signing) and whpk_ (verifying) keys.
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { generateKeyPair, sign, verify, type WebhookKeyPair } from "../src";
import { expectVerificationError, utf8 } from "./verification-helpers";

const T = 1_700_000_000;
const now = T * 1000;
const id = "msg_v1a";
const payload = '{"name":"Zoë 🎉","amount":1.50}';
const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const fromB64 = (text: string) => Buffer.from(text, "base64");
const keyBytes = (key: string) => fromB64(key.slice(5));
const seedKey = (seed: Uint8Array) =>
  createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });

let pair: WebhookKeyPair;
let other: WebhookKeyPair;
let headers: Record<string, string>;

beforeAll(async () => {
  [pair, other] = await Promise.all([generateKeyPair(), generateKeyPair()]);
  headers = await sign({ secret: pair.secretKey, payload, id, timestamp: T });
});

const verifyWith = (secret: string | string[], changes: { payload?: string; headers?: Record<string, string> } = {}) =>
  verify({ secret, payload: changes.payload ?? payload, headers: { ...headers, ...changes.headers }, now });

describe("generateKeyPair", () => {
  it("returns a whsk_ 32-byte seed and its whpk_ 32-byte public key, as node:crypto derives it", () => {
    expect(pair.secretKey).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/);
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    const spki = createPublicKey(seedKey(keyBytes(pair.secretKey))).export({ format: "der", type: "spki" });
    expect(keyBytes(pair.publicKey)).toEqual(spki.subarray(-32));
  });

  it("returns a new pair each time", () => {
    expect(other.secretKey).not.toBe(pair.secretKey);
    expect(other.publicKey).not.toBe(pair.publicKey);
  });
});

describe("signing and verifying", () => {
  it("writes one v1a entry: the Ed25519 signature of id.timestamp.payload, as node:crypto computes it", () => {
    const [version, signature] = headers["webhook-signature"]!.split(",");
    expect(version).toBe("v1a");
    const content = Buffer.from(`${id}.${T}.${payload}`);
    expect(fromB64(signature!)).toEqual(edSign(null, content, seedKey(keyBytes(pair.secretKey))));
    const publicKey = createPublicKey({
      key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), keyBytes(pair.publicKey)]),
      format: "der",
      type: "spki",
    });
    expect(edVerify(null, content, publicKey, fromB64(signature!))).toBe(true);
  });

  it.each([
    ["the whpk_ public key", () => pair.publicKey],
    ["the whsk_ secret key", () => pair.secretKey],
  ])("verifies with %s", async (_, key) => {
    await expect(verifyWith(key())).resolves.toEqual({ id, timestamp: T, payload });
  });

  it("signs and verifies bytes the same as the string", async () => {
    const fromBytes = await sign({ secret: pair.secretKey, payload: utf8(payload), id, timestamp: T });
    expect(fromBytes).toEqual(headers);
    await expect(verify({ secret: pair.publicKey, payload: utf8(payload), headers, now })).resolves.toMatchObject({
      id,
    });
  });

  it("accepts a 64-byte libsodium secret key (seed then public key), signing identically", async () => {
    const libsodium = `whsk_${Buffer.concat([keyBytes(pair.secretKey), keyBytes(pair.publicKey)]).toString("base64")}`;
    expect(await sign({ secret: libsodium, payload, id, timestamp: T })).toEqual(headers);
  });

  it.each<[string, () => Parameters<typeof verifyWith>[1]]>([
    ["a tampered payload", () => ({ payload: payload.replace("1.50", "1.5") })],
    ["a tampered id", () => ({ headers: { "webhook-id": "msg_v1b" } })],
    ["a tampered timestamp", () => ({ headers: { "webhook-timestamp": String(T + 1) } })],
    [
      "a flipped signature bit",
      () => {
        const bytes = fromB64(headers["webhook-signature"]!.slice(4));
        bytes[10]! ^= 1;
        return { headers: { "webhook-signature": `v1a,${bytes.toString("base64")}` } };
      },
    ],
    ["a signature of the wrong length", () => ({ headers: { "webhook-signature": `v1a,${"A".repeat(84)}` } })],
    ["a signature that is not base64", () => ({ headers: { "webhook-signature": "v1a,not*base64!" } })],
  ])("rejects %s as no_matching_signature", async (_, changes) => {
    await expectVerificationError(verifyWith(pair.publicKey, changes()), "no_matching_signature");
  });

  it("rejects another pair's keys and a whsec_ secret as no_matching_signature", async () => {
    for (const key of [other.publicKey, other.secretKey, whsec]) {
      await expectVerificationError(verifyWith(key), "no_matching_signature");
    }
  });

  it("verifies when the matching key is one of several", async () => {
    await expect(verifyWith([other.publicKey, whsec, pair.publicKey])).resolves.toMatchObject({ id });
  });
});

describe("keys in the wrong place", () => {
  it("refuses to sign with a whpk_ public key", async () => {
    const error = await expectVerificationError(sign({ secret: pair.publicKey, payload }), "invalid_secret");
    expect(error.message).toContain("whsk_");
  });

  it.each([
    ["a 16-byte whsk_", `whsk_${Buffer.alloc(16, 7).toString("base64")}`],
    ["a 31-byte whpk_", `whpk_${Buffer.alloc(31, 7).toString("base64")}`],
    ["a 64-byte whpk_", `whpk_${Buffer.alloc(64, 7).toString("base64")}`],
    ["a whpk_ that is not base64", "whpk_not-base64!"],
    ["an empty whsk_", "whsk_"],
  ])("rejects %s as invalid_secret", async (_, key) => {
    await expectVerificationError(verifyWith(key), "invalid_secret");
  });
});

describe("mixed [whsec_, whsk_] signing", () => {
  let mixed: Record<string, string>;
  beforeAll(async () => {
    mixed = await sign({ secret: [whsec, pair.secretKey], payload, id, timestamp: T });
  });

  it("writes a v1 and a v1a entry, in the order of the secrets", () => {
    expect(mixed["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}= v1a,[A-Za-z0-9+/]{86}==$/);
  });

  it.each([
    ["whsec_", () => whsec],
    ["whpk_", () => pair.publicKey],
    ["whsk_", () => pair.secretKey],
  ])("verifies with the %s key alone", async (_, key) => {
    await expect(verify({ secret: key(), payload, headers: mixed, now })).resolves.toMatchObject({ id });
  });

  it("still verifies in the reference library, which skips the v1a entry", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now);
    try {
      expect(new StandardWebhook(whsec).verify(payload, mixed)).toEqual(JSON.parse(payload));
    } finally {
      vi.useRealTimers();
    }
  });
});
