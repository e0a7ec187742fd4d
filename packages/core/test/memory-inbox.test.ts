import { runInboxContract } from "@hookline/testing";
import { describe, expect, it } from "vitest";
import { memoryInbox } from "../src";

runInboxContract("memory", () => memoryInbox(), { describe, it });

describe("memoryInbox", () => {
  const event = (id: string) => ({ id, type: "invoice.paid", payload: "{}", receivedAt: 0 });

  it("forgets ended events once retentionMs has passed, so that their ids can be enqueued again", async () => {
    const clock = { at: 1_000_000 };
    const inbox = memoryInbox({ now: () => clock.at, retentionMs: 120_000 });
    await inbox.enqueue(event("done"));
    await inbox.enqueue(event("waiting"));
    const worker = inbox.work(
      async (job) =>
        job.event.id === "done"
          ? { next: { status: "processed" } }
          : { next: { status: "pending", delayMs: 10_000_000 } },
      { concurrency: 2, leaseMs: 1000 },
    );
    await expect.poll(async () => (await inbox.get("waiting"))?.attempts).toBe(1);
    await worker.stop();
    expect((await inbox.get("done"))?.status).toBe("processed");
    clock.at += 60_000;
    await inbox.enqueue(event("prune-1"));
    expect(await inbox.get("done")).toBeDefined();
    clock.at += 120_000;
    await inbox.enqueue(event("prune-2"));
    expect(await inbox.get("done")).toBeUndefined();
    expect((await inbox.get("waiting"))?.status).toBe("pending");
    expect(await inbox.enqueue(event("done"))).toEqual({ created: true });
  });

  it("refuses a lease that is not a whole number of milliseconds", () => {
    expect(() =>
      memoryInbox().work(async () => ({ next: { status: "processed" } }), { concurrency: 1, leaseMs: 0 }),
    ).toThrow(/leaseMs/);
  });
});
