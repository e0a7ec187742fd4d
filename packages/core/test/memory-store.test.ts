import { describe, expect, it } from "vitest";
import { memoryDeadLetters, memoryStore } from "../src";
import { runDeadLetterContract, runStoreContract } from "../src/testing";

runStoreContract("memory", () => memoryStore(), { describe, it });
runDeadLetterContract("memory", () => memoryDeadLetters(), { describe, it });

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

  it("drops expired entries before evicting live ones", async () => {
    const store = memoryStore({ maxEntries: 2 });
    const live = await store.claim("live", 60_000);
    await store.claim("short", 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.claim("new", 60_000);
    expect(live.status).toBe("claimed");
    expect((await store.claim("live")).status).toBe("processing");
    store.close();
  });

  it("rejects options that are not positive numbers", () => {
    expect(() => memoryStore({ leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => memoryStore({ maxEntries: Number.NaN })).toThrow(/maxEntries/);
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
