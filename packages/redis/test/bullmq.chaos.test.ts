import { createSender, type Delivery, generateSecret } from "@hookline/core";
import { serviceUrl } from "@hookline/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullmqDeliveries } from "../src/bullmq";
import { chaosProcesses, kill } from "./chaos-processes";
import { sleep } from "./deliveries";
import { deleteKeys, type RedisServer, startRedisServer, uniquePrefix } from "./redis-server";

// Separate OS processes: 3 sender workers on the BullMQ engine (on a redis-server of this test's own, which is
// frozen for 5 s mid-run), 2 Hookline receivers behind one port sharing an idempotency store on the Redis service.
const url = serviceUrl("REDIS_URL");
const MESSAGES = 2_000;
const { bundle, start: spawnProcess, cleanUp } = chaosProcesses();

describe.skipIf(!url)("BullMQ engine under chaos: separate processes, a worker SIGKILLed, Redis frozen", () => {
  const prefix = uniquePrefix("chaos"); // the receivers' keys on the Redis service
  const enginePrefix = "{chaos}";
  const secret = generateSecret();
  let engineRedis: RedisServer;
  let shared: Redis;
  let connection: Redis;
  let senderFile: string;
  let receiverUrl: string;

  beforeAll(async () => {
    engineRedis = await startRedisServer();
    shared = new Redis(url!);
    connection = new Redis(engineRedis.url, { maxRetriesPerRequest: null });
    connection.on("error", () => {});
    const receiverFile = await bundle("chaos-receiver");
    senderFile = await bundle("chaos-sender");
    const { ready } = await spawnProcess(receiverFile, { REDIS_URL: url!, PREFIX: prefix, SECRET: secret });
    receiverUrl = `http://127.0.0.1:${ready.port}`;
  }, 60_000);

  afterAll(async () => {
    await cleanUp();
    connection?.disconnect();
    await engineRedis?.kill();
    if (shared) {
      await deleteKeys(shared, prefix);
      shared.disconnect();
    }
  });

  it(`delivers ${MESSAGES} messages to 2 endpoints, each handled exactly once, nothing stuck or unlogged`, async () => {
    const store = bullmqDeliveries({ connection, prefix: enginePrefix });
    const sender = createSender({ store, allow: ["127.0.0.1/32"], logger: { info() {}, warn() {}, error() {} } });
    for (const path of ["a", "b"]) await sender.endpoints.create({ url: `${receiverUrl}/${path}`, secret });
    const env = { ENGINE_URL: engineRedis.url, PREFIX: enginePrefix };
    const workers = await Promise.all([0, 1, 2].map(() => spawnProcess(senderFile, env)));

    const started = Date.now();
    const pendingCount = () => connection.zcard(`${enginePrefix}:status:pending`);
    const deliveredCount = () => connection.zcard(`${enginePrefix}:status:delivered`);
    const sending = (async () => {
      for (let n = 0; n < MESSAGES; n += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, k) =>
            sender.send("order.created", { n: n + k }, { id: `msg_chaos_${n + k}` }),
          ),
        );
      }
    })();

    // A worker dies mid-run (SIGKILL: its leases and BullMQ locks are left to expire) and is restarted.
    while ((await deliveredCount()) < 1_200) await sleep(50);
    const killedAt = await deliveredCount();
    await kill(workers[0]!.child, "SIGKILL");
    await sleep(1_000);
    workers[0] = await spawnProcess(senderFile, env);

    // Redis freezes for 5 s: commands stall, connections stay open.
    while ((await deliveredCount()) < 2_600) await sleep(50);
    const frozenAt = await deliveredCount();
    engineRedis.pause();
    await sleep(5_000);
    engineRedis.resume();

    await sending;
    const deadline = Date.now() + 150_000;
    while ((await pendingCount()) > 0 || (await deliveredCount()) < MESSAGES * 2) {
      if (Date.now() > deadline) throw new Error(`still pending after the deadline: ${await pendingCount()}`);
      await sleep(200);
    }
    const elapsedMs = Date.now() - started;
    await Promise.all(workers.map(({ child }) => kill(child, "SIGTERM")));

    // Every delivery delivered.
    const deliveries: Delivery[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.deliveries.list({ limit: 1000, cursor });
      deliveries.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    expect(deliveries).toHaveLength(MESSAGES * 2);
    expect(deliveries.filter((delivery) => delivery.status !== "delivered")).toEqual([]);

    // Each message handled exactly once per endpoint by the receivers' handlers.
    for (const path of ["a", "b"]) {
      const handled = await shared.hgetall(`${prefix}handled:${path}`);
      expect(Object.keys(handled)).toHaveLength(MESSAGES);
      expect(Object.entries(handled).filter(([, count]) => count !== "1")).toEqual([]);
    }

    // Nothing stuck: nothing due, no BullMQ job left in any state.
    expect(await store.deliveries.dueIn()).toBeUndefined();
    const queue = new Queue("jobs", { connection, prefix: enginePrefix });
    const jobCounts = await queue.getJobCounts();
    await queue.close();
    expect(Object.values(jobCounts).reduce((sum, count) => sum + count, 0)).toBe(0);

    // The attempt log: every delivery's attempts are there, its success among them; requests that reached the
    // receivers but are not in the log can only be the ones the killed worker had in flight (20 at most).
    let logged = 0;
    for (let i = 0; i < deliveries.length; i += 200) {
      const logs = await Promise.all(deliveries.slice(i, i + 200).map((delivery) => store.attempts.list(delivery.id)));
      logs.forEach((log, k) => {
        const delivery = deliveries[i + k]!;
        expect(log.length).toBeGreaterThanOrEqual(delivery.attempts);
        expect(log.some((attempt) => attempt.outcome === "success")).toBe(true);
        logged += log.length;
      });
    }
    const wire = [
      ...Object.values(await shared.hgetall(`${prefix}wire:a`)),
      ...Object.values(await shared.hgetall(`${prefix}wire:b`)),
    ].reduce((sum, count) => sum + Number(count), 0);
    const faults = await shared.hgetall(`${prefix}faults`);
    expect(wire - logged).toBeLessThanOrEqual(20);

    const report = {
      deliveries: deliveries.length,
      requestsOnTheWire: wire,
      duplicateRequests: wire - deliveries.length,
      injected500s: Number(faults["500"] ?? 0),
      injectedHangs: Number(faults.hang ?? 0),
      attemptsLogged: logged,
      attemptsLostWithTheKilledWorker: wire - logged,
      killedAtDelivered: killedAt,
      frozenAtDelivered: frozenAt,
      elapsedMs,
    };
    console.log(`BullMQ chaos run: ${JSON.stringify(report)}`);
    await sender.stop();
    await store.close?.();
  }, 240_000);
});
