import { runDeadLetterContract, runStoreContract } from "@hookline/testing";
import { describe, expect, it, vi } from "vitest";
import { memoryDeadLetters, memoryStore } from "../src";

runStoreContract("memory", () => memoryStore(), { describe, it });
runDeadLetterContract("memory", () => memoryDeadLetters(), { describe, it });

const quiet = { warn() {} };

/** Claims and completes `key-from` … `key-(to - 1)`, as processed deliveries do. */
async function processKeys(store: ReturnType<typeof memoryStore>, from: number, to: number) {
  for (let i = from; i < to; i++) {
    const claim = await store.claim(`key-${i}`);
    if (claim.status === "claimed") await store.complete(`key-${i}`, claim.token);
  }
}

describe("memoryStore bounds", () => {
  it("never holds more than maxEntries keys, forgetting the least recently used", async () => {
    const store = memoryStore({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) {
      const claim = await store.claim(`key-${i}`);
      if (claim.status === "claimed") await store.complete(`key-${i}`, claim.token);
      expect(store.size).toBeLessThanOrEqual(100);
    }
    expect((await store.claim("key-999")).status).toBe("done");
    expect((await store.claim("key-0")).status).toBe("claimed");
    store.close();
  });

  it("drops an expired oldest entry rather than a live one", async () => {
    const store = memoryStore({ maxEntries: 2, logger: quiet });
    await store.claim("short", 1);
    const live = await store.claim("live", 60_000);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.claim("new", 60_000);
    expect(live.status).toBe("claimed");
    expect((await store.claim("live")).status).toBe("processing");
    store.close();
  });

  it("evicts in O(1): a claim on a full store never walks its entries", async () => {
    const store = memoryStore({ maxEntries: 1_000, logger: quiet });
    for (let i = 0; i < 1_000; i++) await store.claim(`old-${i}`);
    const walks = [
      vi.spyOn(Map.prototype, Symbol.iterator as never),
      vi.spyOn(Map.prototype, "entries"),
      vi.spyOn(Map.prototype, "values"),
      vi.spyOn(Map.prototype, "forEach"),
    ];
    try {
      for (let i = 0; i < 1_000; i++) await store.claim(`new-${i}`);
      for (const walk of walks) expect(walk).not.toHaveBeenCalled();
    } finally {
      for (const walk of walks) walk.mockRestore();
    }
    expect(store.size).toBe(1_000);
    store.close();
  });

  it("by default remembers every id of the ±300 s window at 200 deliveries/s (the old default kept 10 000)", async () => {
    const store = memoryStore({ logger: quiet });
    await processKeys(store, 0, 120_000);
    expect((await store.claim("key-0")).status).toBe("done");
    store.close();
  });

  it("warns when it must forget an id that could still be replayed, once per burst", async () => {
    const logger = { warn: vi.fn() };
    const store = memoryStore({ maxEntries: 10, replayWindowMs: 60_000, logger });
    await processKeys(store, 0, 30);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ maxEntries: 10, replayWindowMs: 60_000 }),
      expect.stringMatching(/replay/),
    );
    store.close();
  });

  it("forgets ids older than the replay window without a warning", async () => {
    const logger = { warn: vi.fn() };
    const store = memoryStore({ maxEntries: 10, replayWindowMs: 1, logger });
    await processKeys(store, 0, 10);
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 10; i < 20; i++) await store.claim(`key-${i}`);
    expect(logger.warn).not.toHaveBeenCalled();
    store.close();
  });

  it("rejects options that are not positive numbers", () => {
    expect(() => memoryStore({ leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => memoryStore({ maxEntries: Number.NaN })).toThrow(/maxEntries/);
    expect(() => memoryStore({ replayWindowMs: -1 })).toThrow(/replayWindowMs/);
  });
});

describe("memoryDeadLetters bounds", () => {
  it("refuses a new letter when full instead of dropping one", async () => {
    const letters = memoryDeadLetters({ maxEntries: 1 });
    const letter = {
      id: "a",
      type: "t",
      payload: "{}",
      error: { name: "Error", message: "x" },
      attempts: 1,
      firstFailedAt: 1,
      lastFailedAt: 1,
    };
    await letters.put(letter);
    await expect(letters.put({ ...letter, id: "b" })).rejects.toThrow(/full/);
    await letters.put({ ...letter, lastFailedAt: 2 });
    expect(await letters.get("a")).toMatchObject({ attempts: 2, lastFailedAt: 2 });
  });
});
