// Issue 12, defect 3: what one unauthenticated request can make the receiver compute. Work is counted, not timed:
// each crypto call over the signed content is a pass over the whole body, and Ed25519 passes are the costly ones.
// The backend is the real one; the counters only watch its calls (both backends: whichever this project runs).
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createReceiver, generateKeyPair, sign, stripe, verify } from "../src";

const work = vi.hoisted(() => ({ ed25519: 0, hmac: 0, bytes: 0 }));

type Backend = typeof import("../src/backend/index");
function counted(backend: Backend): Backend {
  const size = (prefix: string, payload: string | Uint8Array) => prefix.length + payload.length;
  return {
    ...backend,
    ed25519Verify: (publicKey, signature, prefix, payload) => {
      work.ed25519++;
      work.bytes += size(prefix, payload);
      return backend.ed25519Verify(publicKey, signature, prefix, payload);
    },
    hmacSha256: (key, prefix, payload, encoding) => {
      work.hmac++;
      work.bytes += size(prefix, payload);
      return backend.hmacSha256(key, prefix, payload, encoding);
    },
  };
}
vi.mock("../src/backend/index", async (original) => counted(await original<Backend>()));
vi.mock("../src/backend/node", async (original) => counted(await original<Backend>()));

/** Starts counting afresh (after the test's own signing). */
function resetWork() {
  work.ed25519 = 0;
  work.hmac = 0;
  work.bytes = 0;
}
afterEach(resetWork);

const payload = JSON.stringify({ type: "invoice.paid", data: { id: "in_1" } });
const forged = (count: number, version: string, length = 64) => {
  const entries: string[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(length).fill(i % 251);
    bytes[0] = i & 0xff;
    bytes[1] = i >> 8;
    entries.push(`${version},${Buffer.from(bytes).toString("base64")}`);
  }
  return entries.join(" ");
};
// At most this many signature checks over the body per key, whatever the header holds.
const PER_KEY = 5;

describe("work per request is bounded by the keys, not by the signature header", () => {
  it("10 000 v1a candidates against a rotation of two Ed25519 keys: a few verifications, then 401", async () => {
    const [current, previous] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    const headers = await sign({ secret: current.secretKey, payload });
    headers["webhook-signature"] = forged(10_000, "v1a");
    resetWork();
    const receiver = createReceiver({
      secret: [current.publicKey, previous.publicKey],
      logger: { info() {}, warn() {}, error() {} },
    });
    const response = await receiver.handle(
      new Request("http://localhost/", { method: "POST", headers, body: payload }),
    );
    expect(response.status).toBe(401);
    expect(work.ed25519).toBeLessThanOrEqual(2 * PER_KEY);
  });

  it("repeated copies of one candidate cost one verification per key", async () => {
    const pair = await generateKeyPair();
    const headers = await sign({ secret: pair.secretKey, payload });
    const one = forged(1, "v1a");
    headers["webhook-signature"] = Array.from({ length: 1000 }, () => one).join(" ");
    resetWork();
    await expect(verify({ secret: pair.publicKey, payload, headers })).rejects.toMatchObject({ status: 401 });
    expect(work.ed25519).toBe(1);
  });

  it("a genuine signature among the first candidates still verifies, with the key rotated", async () => {
    const [current, previous] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    const headers = await sign({ secret: [current.secretKey, previous.secretKey], payload });
    headers["webhook-signature"] = `${forged(3, "v1a")} ${headers["webhook-signature"]}`;
    await expect(verify({ secret: [previous.publicKey], payload, headers })).resolves.toMatchObject({ payload });
  });

  it("100 HMAC secrets and 10 000 v1 candidates: one HMAC per secret, candidates bounded", async () => {
    const secrets = Array.from(
      { length: 100 },
      (_, i) => `whsec_${Buffer.from(`secret-number-${i}`).toString("base64")}`,
    );
    const headers = await sign({ secret: "whsec_b3RoZXItc2VjcmV0LW5vdC1pbi10aGUtbGlzdA==", payload });
    headers["webhook-signature"] = forged(10_000, "v1", 32);
    resetWork();
    await expect(verify({ secret: secrets, payload, headers })).rejects.toMatchObject({ status: 401 });
    expect(work.hmac).toBeLessThanOrEqual(100);
  });

  it("Stripe: thousands of v1 entries are refused without comparing each", async () => {
    const headers = await sign({ scheme: stripe(), secret: "whsec_someone_else", payload });
    resetWork();
    headers["stripe-signature"] += Array.from(
      { length: 5000 },
      (_, i) => `,v1=${i.toString(16).padStart(64, "0")}`,
    ).join("");
    await expect(verify({ scheme: stripe(), secret: "whsec_stripe", payload, headers })).rejects.toMatchObject({
      status: 401,
    });
    expect(work.hmac).toBeLessThanOrEqual(1);
  });

  it("for any signature header, Ed25519 work stays within PER_KEY verifications per key", async () => {
    const pair = await generateKeyPair();
    const headers = await sign({ secret: pair.secretKey, payload });
    const entry = fc.tuple(fc.constantFrom("v1a", "v1", "v2", "v1a"), fc.uint8Array({ minLength: 64, maxLength: 64 }));
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 200, size: "max" }), async (entries) => {
        work.ed25519 = 0;
        const list = entries.map(([version, bytes]) => `${version},${Buffer.from(bytes).toString("base64")}`);
        const attempt = { ...headers, "webhook-signature": list.join(" ") || "v1a,x" };
        await verify({ secret: pair.publicKey, payload, headers: attempt }).catch(() => {});
        expect(work.ed25519).toBeLessThanOrEqual(PER_KEY);
      }),
      { numRuns: 100 },
    );
  });
});
