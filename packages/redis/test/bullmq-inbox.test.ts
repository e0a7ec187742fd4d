import type { InboxSettlement } from "@hookline/core";
import { runInboxContract, serviceUrl } from "@hookline/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { bullmqInbox } from "../src/bullmq";
import { sleep } from "./deliveries";
import { bullmqCluster, deleteKeys } from "./redis-server";

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("bullmqInbox", () => {
  const connection = url ? new Redis(url, { maxRetriesPerRequest: null }) : undefined;
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeys(connection!, prefix);
    connection?.disconnect();
  });

  // Each test gets an inbox under a prefix of its own: `work` takes every due event in its inbox.
  runInboxContract(
    "bullmq",
    () => {
      const prefix = `{hookline-inbox-${crypto.randomUUID()}}`;
      prefixes.push(prefix);
      return bullmqInbox({ connection: connection!, prefix });
    },
    { describe, it },
  );
});

describe.skipIf(!url)("bullmqInbox on a Redis Cluster", () => {
  const suite = bullmqCluster((connection, prefix) => bullmqInbox({ connection, prefix }));

  it("runs ordered events and a retry with every key, its own and BullMQ's, in the prefix's one slot", async () => {
    const inbox = bullmqInbox({ connection: suite.cluster, prefix: "{cluster-inbox}" });
    const ids = ["evt_1", "evt_2", "evt_3"];
    for (const id of ids) {
      const event = { id, type: "t", payload: `{"id":"${id}"}`, orderKey: "customer_1", receivedAt: Date.now() };
      expect(await inbox.enqueue(event)).toEqual({ created: true });
    }
    const seen: string[] = [];
    const worker = inbox.work(
      async (job): Promise<InboxSettlement> => {
        seen.push(job.event.id);
        return job.event.id === "evt_1" && job.attempts === 0
          ? { next: { status: "pending", delayMs: 50 }, error: "once" }
          : { next: { status: "processed" } };
      },
      { concurrency: 5, leaseMs: 5_000 },
    );
    const deadline = Date.now() + 10_000;
    while ((await inbox.get("evt_3"))?.status !== "processed") {
      if (Date.now() > deadline) throw new Error(`not processed in time; ran ${seen.join(", ")}`);
      await sleep(20);
    }
    await worker.stop();
    await inbox.close?.();
    expect(seen).toEqual(["evt_1", "evt_1", "evt_2", "evt_3"]);

    const { keys, slots, expected } = await suite.slotsOf("{cluster-inbox}");
    expect(keys).toBeGreaterThan(5);
    expect(slots).toEqual(expected);
  });
});
