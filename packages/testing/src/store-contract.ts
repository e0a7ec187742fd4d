import type { ClaimResult, DeadLetter, DeadLetterStore, IdempotencyStore } from "@hookline/core";

/** The parts of a test runner the contract suites use (vitest, jest and node:test all fit). */
export interface ContractRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>, timeout?: number): unknown;
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Store contract violated: ${message}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueKey = (label: string) => `contract:${label}:${crypto.randomUUID()}`;

function claimed(result: ClaimResult, what: string): string {
  check(result.status === "claimed", `${what}: expected "claimed", got ${JSON.stringify(result)}`);
  check(typeof result.token === "string" && result.token.length >= 16, `${what}: the token must be a random string`);
  return result.token;
}

/**
 * Checks the guarantees a receiver relies on: one claim wins among 100 concurrent ones, a lease that expires
 * lets another worker claim, tokens fence out a worker whose lease expired, retention expires, release frees
 * a key at once. Keys are random, so a shared server is fine. Takes about two seconds of waiting for expiries.
 *
 * @param makeStore called once per test; may return a promise.
 * @example
 * import { describe, it } from "vitest";
 * runStoreContract("redis", () => redisStore({ client }), { describe, it });
 */
export function runStoreContract(
  name: string,
  makeStore: () => IdempotencyStore | Promise<IdempotencyStore>,
  { describe, it }: ContractRunner,
): void {
  const lease = 300;
  describe(`IdempotencyStore contract: ${name}`, () => {
    it("claims a new key, reports it in flight, then done once completed", async () => {
      const store = await makeStore();
      const key = uniqueKey("lifecycle");
      const token = claimed(await store.claim(key, 10_000), "first claim");
      const second = await store.claim(key, 10_000);
      check(second.status === "processing", `a claimed key must be "processing", got ${JSON.stringify(second)}`);
      check(
        second.retryAfterMs > 0 && second.retryAfterMs <= 10_000,
        `retryAfterMs must be the lease left, got ${second.retryAfterMs}`,
      );
      check((await store.complete(key, token, 60_000)) === true, "complete with the right token must succeed");
      const third = await store.claim(key, 10_000);
      check(third.status === "done", `a completed key must be "done", got ${JSON.stringify(third)}`);
    });

    it("gives exactly one of 100 concurrent claims", async () => {
      const store = await makeStore();
      const key = uniqueKey("race");
      const results = await Promise.all(Array.from({ length: 100 }, () => store.claim(key, 10_000)));
      const winners = results.filter((result) => result.status === "claimed");
      check(winners.length === 1, `exactly one claim must win, ${winners.length} did`);
      check(
        results.every((result) => result.status === "claimed" || result.status === "processing"),
        "the others must see the key in flight",
      );
    });

    it("keeps keys independent", async () => {
      const store = await makeStore();
      const [a, b] = [uniqueKey("a"), uniqueKey("b")];
      claimed(await store.claim(a, 10_000), "claim of a");
      claimed(await store.claim(b, 10_000), "claim of b, while a is claimed");
    });

    it("lets another worker claim once a lease expires, and fences out the old token", async () => {
      const store = await makeStore();
      const key = uniqueKey("lease");
      const stale = claimed(await store.claim(key, lease), "first claim");
      await sleep(lease + 400);
      const fresh = claimed(await store.claim(key, 10_000), "claim after the lease expired");
      check(fresh !== stale, "a new claim must get a new token");
      check((await store.complete(key, stale, 60_000)) === false, "the expired token must not complete the new claim");
      check((await store.release(key, stale)) === false, "the expired token must not release the new claim");
      const still = await store.claim(key, 10_000);
      check(still.status === "processing", `the new claim must still hold, got ${JSON.stringify(still)}`);
      check((await store.complete(key, fresh, 60_000)) === true, "the new token completes");
    });

    it("refuses complete and release with a wrong token", async () => {
      const store = await makeStore();
      const key = uniqueKey("token");
      const token = claimed(await store.claim(key, 10_000), "claim");
      check((await store.complete(key, "not-the-token", 60_000)) === false, "a wrong token must not complete");
      check((await store.release(key, "not-the-token")) === false, "a wrong token must not release");
      check((await store.claim(key, 10_000)).status === "processing", "the claim must be untouched");
      check(
        (await store.complete(uniqueKey("never-claimed"), token, 60_000)) === false,
        "an unclaimed key cannot complete",
      );
    });

    it("frees a released key at once, and only once", async () => {
      const store = await makeStore();
      const key = uniqueKey("release");
      const token = claimed(await store.claim(key, 10_000), "claim");
      check((await store.release(key, token)) === true, "release with the right token must succeed");
      check((await store.release(key, token)) === false, "a second release must report nothing to release");
      check((await store.complete(key, token, 60_000)) === false, "a released token must not complete");
      claimed(await store.claim(key, 10_000), "claim after release");
    });

    it("forgets a done key after its retention", async () => {
      const store = await makeStore();
      const key = uniqueKey("retention");
      const token = claimed(await store.claim(key, 10_000), "claim");
      check((await store.complete(key, token, lease)) === true, "complete");
      check((await store.claim(key, 10_000)).status === "done", "done within retention");
      await sleep(lease + 400);
      claimed(await store.claim(key, 10_000), "claim after retention expired");
    });
  });
}

/** Checks a `DeadLetterStore`: put/get round trip, merging repeated failures, listing, deleting. */
export function runDeadLetterContract(
  name: string,
  makeDeadLetters: () => DeadLetterStore | Promise<DeadLetterStore>,
  { describe, it }: ContractRunner,
): void {
  const letter = (id: string, at: number, message = "boom"): DeadLetter => ({
    id,
    type: "invoice.paid",
    timestamp: 1_700_000_000,
    payload: '{"type":"invoice.paid","data":{"note":"Zoë 🎉"}}',
    error: { name: "Error", message },
    attempts: 1,
    firstFailedAt: at,
    lastFailedAt: at,
  });

  describe(`DeadLetterStore contract: ${name}`, () => {
    it("stores and returns a dead letter exactly", async () => {
      const store = await makeDeadLetters();
      const id = uniqueKey("letter");
      check((await store.get(id)) === undefined, "an unknown id must be undefined");
      const original = letter(id, 1_000);
      await store.put(original);
      const got = await store.get(id);
      check(
        JSON.stringify(got) === JSON.stringify(original),
        `get must return what was put, got ${JSON.stringify(got)}`,
      );
    });

    it("merges a repeated failure: attempts add up, the first failure time stays", async () => {
      const store = await makeDeadLetters();
      const id = uniqueKey("merge");
      await store.put(letter(id, 1_000, "first"));
      await store.put(letter(id, 2_000, "second"));
      const got = await store.get(id);
      check(got?.attempts === 2, `attempts must be 2, got ${got?.attempts}`);
      check(got.firstFailedAt === 1_000 && got.lastFailedAt === 2_000, "first and last failure times");
      check(got.error.message === "second", "the last error is kept");
    });

    it("lists oldest first, honours the limit, and deletes", async () => {
      const store = await makeDeadLetters();
      const ids = [uniqueKey("list-1"), uniqueKey("list-2"), uniqueKey("list-3")];
      // Older than anything else a shared store may hold, so these come first.
      for (const [index, id] of ids.entries()) await store.put(letter(id, -3 + index));
      const listed = (await store.list({ limit: 2 })).map((item) => item.id);
      check(
        JSON.stringify(listed) === JSON.stringify(ids.slice(0, 2)),
        `list order/limit, got ${JSON.stringify(listed)}`,
      );
      check((await store.delete(ids[0]!)) === true, "delete must report a removal");
      check((await store.delete(ids[0]!)) === false, "a second delete must report nothing removed");
      check((await store.get(ids[0]!)) === undefined, "a deleted letter is gone");
      for (const id of ids.slice(1)) await store.delete(id);
    });

    it("deletes an id with no letter as a cheap miss, and starts afresh after a delete", async () => {
      // The receiver deletes after every success, to clear a letter a timed-out put may have left.
      const store = await makeDeadLetters();
      const id = uniqueKey("after-delete");
      check((await store.delete(uniqueKey("never-put"))) === false, "deleting an unknown id must report false");
      await store.put(letter(id, 1_000, "first"));
      check((await store.delete(id)) === true, "delete must report a removal");
      await store.put(letter(id, 2_000, "again"));
      const got = await store.get(id);
      check(
        got?.attempts === 1 && got.firstFailedAt === 2_000,
        `a put after a delete is a new letter, got ${JSON.stringify(got)}`,
      );
      await store.delete(id);
    });
  });
}
