import { createReceiver, type DeadLetter, generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { describe, expect, it } from "vitest";
import { redisDeadLetters, redisStore } from "../src";
import { messages, quietLogger } from "./deliveries";
import { suiteClients, uniquePrefix } from "./redis-server";

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("dead letters in Redis", () => {
  const prefix = uniquePrefix("dead-letters");
  const clients = suiteClients(url!, prefix);

  it("keeps the event a handler failed on, and replays it from there", async () => {
    const secret = generateSecret();
    const deadLetters = redisDeadLetters({ client: clients.ioredis, prefix: `${prefix}replay:` });
    let failing = true;
    const receiver = createReceiver({
      secret,
      store: redisStore({ client: clients.ioredis, prefix: `${prefix}replay:claims:` }),
      deadLetters,
      logger: quietLogger,
    }).on("order.created", () => {
      if (failing) throw new TypeError("the warehouse is closed");
    });
    const [message] = await messages(secret, "replay", 1);
    const before = Date.now();
    const response = await receiver.handle(
      new Request("http://localhost/webhooks", { method: "POST", headers: message!.headers, body: message!.body }),
    );

    expect(await response.json()).toEqual({ received: true, deadLettered: true });
    const letter = await deadLetters.get(message!.id);
    expect(letter).toMatchObject({
      id: message!.id,
      type: "order.created",
      payload: message!.body,
      error: { name: "TypeError", message: "the warehouse is closed" },
      attempts: 1,
    });
    expect(letter!.firstFailedAt).toBeGreaterThanOrEqual(before);
    expect((await deadLetters.list()).map(({ id }) => id)).toEqual([message!.id]);

    failing = false;
    expect(await receiver.replay(message!.id)).toEqual({ status: "processed" });
    expect(await deadLetters.get(message!.id)).toBeUndefined();
    expect(await deadLetters.list()).toEqual([]);
  });

  it("merges 100 concurrent failures of one event from two clients without losing an attempt", async () => {
    const letters = [
      redisDeadLetters({ client: clients.ioredis, prefix: `${prefix}merge:` }),
      redisDeadLetters({ client: clients.nodeRedis, prefix: `${prefix}merge:` }),
    ];
    const failure = (n: number): DeadLetter => ({
      id: "evt_contended",
      type: "order.created",
      payload: "{}",
      error: { name: "Error", message: `failure ${n}` },
      attempts: 1,
      firstFailedAt: 1_000 + n,
      lastFailedAt: 1_000 + n,
    });
    await letters[0]!.put(failure(0));
    await Promise.all(Array.from({ length: 100 }, (_, n) => letters[n % 2]!.put(failure(n + 1))));

    const merged = await letters[1]!.get("evt_contended");
    expect(merged?.attempts).toBe(101);
    expect(merged?.firstFailedAt).toBe(1_000);
    // The last write wins the rest of the letter, whole: its error and its own last failure time together.
    expect(merged!.lastFailedAt - 1_000).toBe(Number(merged!.error.message.replace("failure ", "")));
  });

  it("lists no letters for a limit under one, and keeps exact first-failure times", async () => {
    const deadLetters = redisDeadLetters({ client: clients.nodeRedis, prefix: `${prefix}limits:` });
    const at = Date.now() + 0.25; // a fraction survives the sorted-set score
    await deadLetters.put({
      id: "evt_exact",
      type: "order.created",
      payload: "{}",
      error: { name: "Error", message: "boom" },
      attempts: 1,
      firstFailedAt: at,
      lastFailedAt: at,
    });
    expect(await deadLetters.list({ limit: 0 })).toEqual([]);
    expect((await deadLetters.list({ limit: 1 }))[0]?.firstFailedAt).toBe(at);
  });
});
