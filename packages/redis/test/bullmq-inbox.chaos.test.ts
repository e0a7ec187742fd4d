import { generateSecret } from "@hookline/core";
import { serviceUrl, signedDelivery } from "@hookline/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisDeadLetters } from "../src";
import { bullmqInbox } from "../src/bullmq";
import { chaosProcesses, kill } from "./chaos-processes";
import { sleep } from "./deliveries";
import { deleteKeys, type RedisServer, startRedisServer, uniquePrefix } from "./redis-server";

// Separate OS processes: 2 ingest-only receivers behind one port and 2 handler-only workers, all on a bullmqInbox
// in a redis-server of this test's own (append-only, fsync always, so that a crash loses nothing acknowledged).
// The workers are SIGKILLed at random points and restarted; the inbox is crashed, then frozen, during ingest.
// The handlers count their runs in a ledger on the Redis service.
const url = serviceUrl("REDIS_URL");
const EVENTS = 2_000;
const FAILING = 20;
const SENDERS = 16;
const { bundle, start, cleanUp } = chaosProcesses();

describe.skipIf(!url)(
  "BullMQ inbox under chaos: ingest and worker processes, workers SIGKILLed, the inbox down",
  () => {
    const ledgerPrefix = uniquePrefix("inbox-chaos"); // the handlers' ledger and dead letters on the Redis service
    const prefix = "{inbox-chaos}";
    const secret = generateSecret();
    let inboxRedis: RedisServer;
    let ledger: Redis;
    let connection: Redis;
    let workerFile: string;
    let receiverUrl: string;

    beforeAll(async () => {
      inboxRedis = await startRedisServer({ appendfsync: "always" });
      ledger = new Redis(url!);
      connection = new Redis(inboxRedis.url, { maxRetriesPerRequest: null });
      connection.on("error", () => {});
      const receiverFile = await bundle("inbox-receiver");
      workerFile = await bundle("inbox-worker");
      const { ready } = await start(receiverFile, { ENGINE_URL: inboxRedis.url, PREFIX: prefix, SECRET: secret });
      receiverUrl = `http://127.0.0.1:${ready.port}/`;
    }, 60_000);

    afterAll(async () => {
      await cleanUp();
      connection?.disconnect();
      await inboxRedis?.kill();
      if (ledger) {
        await deleteKeys(ledger, ledgerPrefix);
        ledger.disconnect();
      }
    });

    it(`${EVENTS} events: each processed at least once, nothing acknowledged unstored, 503 while the inbox is down`, async () => {
      const inbox = bullmqInbox({ connection, prefix });
      const env = { ENGINE_URL: inboxRedis.url, PREFIX: prefix, REDIS_URL: url!, LEDGER_PREFIX: ledgerPrefix };
      const workers = await Promise.all([0, 1].map(() => start(workerFile, env)));
      const started = Date.now();

      // The test is the sender: it delivers each event until it gets a 200, as a sender's retries would.
      const acknowledged = new Set<string>();
      const answers: Record<string, number> = {};
      const refusals: { status: number; retryAfter: string | null }[] = [];
      const ids = [
        ...Array.from({ length: EVENTS }, (_, n) => ({ id: `evt_${n}`, type: "order.created" })),
        ...Array.from({ length: FAILING }, (_, n) => ({ id: `evt_failing_${n}`, type: "order.failing" })),
      ];
      let next = 0;
      // Events past the gate wait until the test opens it, so that some are always sent while the inbox is down.
      let gate = 600;
      const deliver = async () => {
        while (next < ids.length) {
          if (next >= gate) {
            await sleep(10);
            continue;
          }
          const { id, type } = ids[next++]!;
          for (;;) {
            const { headers, body } = await signedDelivery({ secret, id, event: { type, data: { id } } });
            const response = await fetch(receiverUrl, { method: "POST", headers, body: body as string }).catch(
              () => undefined,
            );
            const text = response ? await response.text() : "";
            if (response?.status === 200) {
              const answer = JSON.parse(text) as { queued?: boolean; duplicate?: boolean };
              const kind = answer.queued ? "queued" : answer.duplicate ? "duplicate" : text;
              answers[kind] = (answers[kind] ?? 0) + 1;
              acknowledged.add(id);
              break;
            }
            refusals.push({ status: response?.status ?? 0, retryAfter: response?.headers.get("retry-after") ?? null });
            await sleep(100);
          }
        }
      };
      const sending = Promise.all(Array.from({ length: SENDERS }, deliver));

      // Workers die at random points (SIGKILL: their leases and BullMQ locks are left to expire) and come back.
      let killing = true;
      let kills = 0;
      const killer = (async () => {
        while (killing) {
          await sleep(300 + Math.random() * 900);
          if (!killing) break;
          const i = Math.floor(Math.random() * workers.length);
          await kill(workers[i]!.child, "SIGKILL");
          kills++;
          await sleep(200);
          workers[i] = await start(workerFile, env);
        }
      })();

      // The inbox crashes (SIGKILL) mid-ingest and comes back on its append-only file: every event acknowledged
      // before the crash is there.
      while (acknowledged.size < 600) await sleep(20);
      await inboxRedis.crash();
      const beforeCrash = [...acknowledged];
      gate = 1_300;
      await sleep(1_500);
      await inboxRedis.start();
      const lost = [];
      for (const id of beforeCrash) if ((await inbox.get(id)) === undefined) lost.push(id);
      expect(lost).toEqual([]);
      const refusedWhileDown = refusals.length;

      // Then it freezes (SIGSTOP): the receivers' commands time out and they answer 503 too.
      while (acknowledged.size < 1_300) await sleep(20);
      inboxRedis.pause();
      gate = ids.length;
      await sleep(2_500);
      inboxRedis.resume();
      const refusedWhileFrozen = refusals.length - refusedWhileDown;

      await sending;
      const ingestMs = Date.now() - started;
      expect(acknowledged.size).toBe(ids.length);
      expect(refusedWhileDown).toBeGreaterThan(0);
      expect(refusedWhileFrozen).toBeGreaterThan(0);
      // Every refusal is a 503 with Retry-After (or no answer: a connection cut while a receiver waited).
      expect(refusals.filter(({ status, retryAfter }) => !(status === 503 && Number(retryAfter) >= 1))).toEqual([]);

      // Every event processed at least once; the failing ones exhausted and in the dead letters.
      const deadline = Date.now() + 120_000;
      const handled = () => ledger.hgetall(`${ledgerPrefix}handled`);
      while (Object.keys(await handled()).length < EVENTS) {
        if (Date.now() > deadline) throw new Error(`handled ${Object.keys(await handled()).length} of ${EVENTS}`);
        await sleep(200);
      }
      killing = false;
      await killer;
      const deadLetters = redisDeadLetters({ client: ledger, prefix: `${ledgerPrefix}dead:` });
      while ((await deadLetters.list({ limit: 1000 })).length < FAILING) {
        if (Date.now() > deadline) throw new Error("the failing events are not all dead-lettered");
        await sleep(200);
      }
      const statuses: Record<string, number> = {};
      for (const { id } of ids) {
        const status = (await inbox.get(id))?.status ?? "missing";
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
      expect(statuses).toEqual({ processed: EVENTS, exhausted: FAILING });
      const runs = Object.values(await handled()).map(Number);
      expect(runs.every((count) => count >= 1)).toBe(true);

      // Nothing stuck: no BullMQ job left in any state once the workers are done.
      await Promise.all(workers.map(({ child }) => kill(child, "SIGKILL")));
      const queue = new Queue("inbox-jobs", { connection, prefix });
      const jobCounts = await queue.getJobCounts("wait", "active", "delayed", "prioritized", "waiting-children");
      // Jobs the last killed workers held stay "active" until a live worker's stalled check; none may wait or be due.
      expect((jobCounts.wait ?? 0) + (jobCounts.delayed ?? 0) + (jobCounts.prioritized ?? 0)).toBe(0);
      await queue.close();

      const report = {
        events: EVENTS,
        designedToFail: FAILING,
        answers,
        refusedWhileDown,
        refusedWhileFrozen,
        workerKills: kills,
        handlerRuns: runs.reduce((sum, count) => sum + count, 0),
        duplicateRuns: runs.reduce((sum, count) => sum + count - 1, 0),
        eventsRunMoreThanOnce: runs.filter((count) => count > 1).length,
        jobsLeft: jobCounts,
        ingestMs,
        elapsedMs: Date.now() - started,
      };
      console.log(`BullMQ inbox chaos run: ${JSON.stringify(report)}`);
      await inbox.close?.();
    }, 240_000);
  },
);
