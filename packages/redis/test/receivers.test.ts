import { createReceiver, generateSecret, type Receiver, type ReceiverLogger } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { describe, expect, it } from "vitest";
import { type RedisClient, redisStore } from "../src";
import { type Answer, deliverUntilAcknowledged, type Message, messages, quietLogger, sleep, tally } from "./deliveries";
import { suiteClients, uniquePrefix } from "./redis-server";

const url = serviceUrl("REDIS_URL");

async function send(receiver: Receiver, message: Message): Promise<Answer> {
  const response = await receiver.handle(
    new Request("http://localhost/webhooks", { method: "POST", headers: message.headers, body: message.body }),
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A promise and the function that settles it, to hold a handler at a known point. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe.skipIf(!url)("two receivers sharing one Redis", () => {
  const prefix = uniquePrefix("receivers");
  const secret = generateSecret();
  const clients = suiteClients(url!, prefix);

  it("process each of 500 ids exactly once when every id is delivered 3 times at once, alternating instances", async () => {
    const runs = new Map<string, number>();
    const receiver = (client: RedisClient) =>
      createReceiver({
        secret,
        store: redisStore({ client, prefix: `${prefix}once:` }),
        logger: quietLogger,
      }).on("order.created", async (event) => {
        runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
        await sleep(Math.random() * 5);
      });
    // Separate clients and even client libraries: the same scripts on the same keys.
    const instances = [receiver(clients.ioredis), receiver(clients.nodeRedis)];
    const batch = await messages(secret, "once", 500);
    const deadline = Date.now() + 20_000;

    const answers = await Promise.all(
      batch.flatMap((message, n) =>
        [0, 1, 2].map((copy) =>
          deliverUntilAcknowledged((attempt) => send(instances[(n * 3 + copy + attempt) % 2]!, message), {
            deadline,
          }),
        ),
      ),
    );

    expect(runs.size).toBe(500);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    const counts = tally(answers.flat());
    expect(counts.processed).toBe(500);
    expect(counts.duplicate).toBe(1000);
    // The copies really overlapped: some found another instance's claim in flight.
    expect(counts["409"]).toBeGreaterThan(0);
    expect(Object.keys(counts).sort()).toEqual(["409", "duplicate", "processed"]);
  }, 30_000);

  for (const outcome of ["succeeds", "fails"] as const) {
    it(`fence out a handler that outlived its lease and then ${outcome}: the newer claim stands`, async () => {
      const [message] = await messages(secret, `fence-${outcome}`, 1);
      const warnings: string[] = [];
      const logger: ReceiverLogger = { ...quietLogger, warn: (_, text) => warnings.push(text) };
      const slow = { started: gate(), finish: gate() };
      const newer = { started: gate(), finish: gate() };
      const runs: string[] = [];
      const first = createReceiver({
        secret,
        store: redisStore({ client: clients.ioredis, prefix: `${prefix}fence:`, leaseMs: 300 }),
        logger,
      }).on("order.created", async () => {
        runs.push("first");
        slow.started.open();
        await slow.finish.opened;
        if (outcome === "fails") throw new Error("the slow handler failed");
      });
      const second = createReceiver({
        secret,
        store: redisStore({ client: clients.nodeRedis, prefix: `${prefix}fence:`, leaseMs: 10_000 }),
        logger: quietLogger,
      }).on("order.created", async () => {
        runs.push("second");
        newer.started.open();
        await newer.finish.opened;
      });

      const firstAnswer = send(first, message!);
      await slow.started.opened;
      expect((await send(second, message!)).status).toBe(409); // the first lease still holds
      await sleep(450); // the first lease (300 ms) expires while its handler runs
      const secondAnswer = send(second, message!);
      await newer.started.opened;

      slow.finish.open();
      expect((await firstAnswer).status).toBe(outcome === "succeeds" ? 200 : 500);
      // The stale token neither completed nor released the newer claim: still in flight, not done, not free.
      const meanwhile = await send(first, message!);
      expect(meanwhile.status).toBe(409);
      expect(runs).toEqual(["first", "second"]);
      if (outcome === "succeeds") {
        expect(warnings).toContain("The claim expired while handlers ran; raise the store's leaseMs");
      }

      newer.finish.open();
      expect(await secondAnswer).toEqual({ status: 200, body: { received: true } });
      expect(await send(first, message!)).toEqual({ status: 200, body: { received: true, duplicate: true } });
      expect(runs).toEqual(["first", "second"]);
    });
  }
});
