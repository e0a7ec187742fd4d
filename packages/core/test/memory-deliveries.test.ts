import { runDeliveryStoreContract } from "@hookline/testing";
import { describe, expect, it } from "vitest";
import { memoryDeliveries } from "../src";

runDeliveryStoreContract("memory", () => memoryDeliveries(), { describe, it });

describe("memoryDeliveries retention", () => {
  const endpoint = (id: string) => ({
    id,
    url: "https://example.com/hooks",
    headers: {},
    metadata: {},
    secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }],
    disabled: false,
    createdAt: 0,
    updatedAt: 0,
  });

  it("forgets messages whose deliveries all ended once retentionMs has passed, keeping pending ones and pages", async () => {
    const clock = { at: 1_000_000 };
    const store = memoryDeliveries({ now: () => clock.at, retentionMs: 10_000 });
    await store.endpoints.create(endpoint("ep_up"));
    await store.endpoints.create(endpoint("ep_down"));
    const send = async (id: string, endpointId: string) =>
      (
        await store.messages.enqueue({ id, type: "ping", payload: "{}", createdAt: clock.at }, [
          {
            id: `dlv_${id}`,
            messageId: id,
            endpointId,
            status: "pending",
            attempts: 0,
            createdAt: clock.at,
            updatedAt: clock.at,
          },
        ])
      ).deliveries[0]!;
    for (let i = 0; i < 5; i++) await send(`msg_${i}`, i === 1 ? "ep_down" : "ep_up");
    await store.endpoints.update("ep_down", { disabled: true });
    const settled: string[] = [];
    const worker = store.work(
      async () => ({
        attempt: { startedAt: clock.at, durationMs: 1, outcome: "success", status: 200 },
        next: { status: "delivered" },
      }),
      { concurrency: 5, perKeyConcurrency: 5, leaseMs: 1_000, onSettled: (job) => settled.push(job.delivery.id) },
    );
    await expect.poll(() => settled.length).toBe(4);
    const firstPage = await store.deliveries.list({ limit: 2 });
    expect(firstPage.items.map((item) => item.id)).toEqual(["dlv_msg_4", "dlv_msg_3"]);

    clock.at += 60_000; // past the retention, and past the prune interval
    await send("msg_5", "ep_up");
    await expect.poll(() => settled.length).toBe(5);
    expect(await store.messages.get("msg_0")).toBeUndefined();
    expect(await store.deliveries.get("dlv_msg_0")).toBeUndefined();
    expect(await store.attempts.list("dlv_msg_0")).toEqual([]);
    expect((await store.deliveries.get("dlv_msg_1"))?.status).toBe("pending"); // waiting for its endpoint: kept
    expect(await store.messages.get("msg_5")).toBeDefined();
    // A cursor taken before the prune still continues where it was.
    const secondPage = await store.deliveries.list({ limit: 2, cursor: firstPage.cursor });
    expect(secondPage.items.map((item) => item.id)).toEqual(["dlv_msg_1"]);
    // A forgotten id can be sent again.
    expect(
      (await store.messages.enqueue({ id: "msg_0", type: "ping", payload: "{}", createdAt: clock.at }, [])).created,
    ).toBe(true);
    await worker.stop();
  });
});
