import { HooklineError } from "@hookline/core";
import { DelayedError, type Job, Queue, Worker as QueueWorker } from "bullmq";
import type { Cluster, Redis } from "ioredis";
import { type LuaScript, positive, scriptRunner } from "../scripts";

/*
 * The one mechanism both BullMQ engines (deliveries and the inbox) are thin uses of: state in Redis hashes under
 * a prefix, changed only by Lua scripts fenced by a version and a lease token, and one BullMQ job per piece of
 * work that is due (`<id>-<version>`, so adding one twice is a no-op and an older one is obsolete). The BullMQ
 * job's lock is the lease (not renewed): a worker that dies or stalls past it has its job recovered by BullMQ's
 * stalled check, and the claim script hands the work out again. A repair round re-adds the job of work whose
 * job a dead process never added.
 */

/** The Lua prelude every engine script starts with: the prefix `P`, the Redis clock `t`, and the jobs to add. */
export const JOBS_LUA = `local P = KEYS[1]
local t
do
  local time = redis.call("TIME")
  t = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local jobs = {}
local function queue_job(id, version, delay)
  jobs[#jobs + 1] = id
  jobs[#jobs + 1] = tostring(version)
  jobs[#jobs + 1] = tostring(math.max(0, delay))
end
local function bump(h)
  return redis.call("HINCRBY", h, "_v", 1)
end
-- BullMQ keeps a job in the hash <prefix>:<queue>:<job id> from its add to its removal.
local function has_job(queue, id, version)
  return redis.call("EXISTS", P .. queue .. ":" .. id .. "-" .. version) == 1
end
`;

/** Flat string replies of Redis. */
export type Flat = string[];

/** A job's data: the id of the work and the version it was added for (a job whose version is behind is obsolete). */
export interface JobData {
  d: string;
  v: number;
}

/** Not the job's own retries (the schedule is Hookline's): only a worker that failed to reach Redis. */
const JOB_OPTIONS = {
  attempts: Number.MAX_SAFE_INTEGER,
  backoff: { type: "fixed", delay: 1_000 },
  removeOnComplete: true,
  removeOnFail: true,
} as const;

/** The options both engines take. */
export interface EngineConnectionOptions {
  /**
   * An ioredis `Redis` or `Cluster`, created with `maxRetriesPerRequest: null` as BullMQ's workers require. The
   * engine sends its own commands and its queue's on it; each worker duplicates it once for BullMQ's blocking
   * reads and closes that copy on `stop()`. The connection itself stays yours to close.
   */
  connection: Redis | Cluster;
  prefix?: string;
  /**
   * How often each worker runs its repair round (what it repairs: the engine's own option says).
   * @default 5_000
   */
  sweepIntervalMs?: number;
}

/** An engine's connection, prefix, scripts and BullMQ queue. */
export interface JobEngine {
  connection: Redis | Cluster;
  prefix: string;
  sweepIntervalMs: number;
  /** Runs one of the engine's scripts with the prefix as its key. */
  run<Reply>(script: LuaScript, args: (string | number)[]): Promise<Reply>;
  /** Adds the jobs a script asked for (triples: id, version, delay ms); a job that exists is kept. */
  addJobs(triples: Flat): Promise<void>;
  /** Gives back the queue's connection, if it was opened. */
  close(): Promise<void>;
}

/** Checks the connection and prefix, and opens the queue `name` under the prefix on first use. */
export function jobEngine(options: EngineConnectionOptions, name: string): JobEngine {
  const { connection } = options;
  const prefix = options.prefix ?? "{hookline}";
  if (typeof prefix !== "string" || prefix === "") {
    throw new HooklineError("invalid_option", `prefix must be a non-empty string, got ${prefix}`);
  }
  const ioredis = connection as Partial<Redis>;
  if (typeof ioredis?.duplicate !== "function" || typeof ioredis.evalsha !== "function") {
    throw new HooklineError(
      "invalid_option",
      "connection must be an ioredis Redis or Cluster, as BullMQ's workers need",
    );
  }
  if ((connection as { isCluster?: boolean }).isCluster && !/\{[^}]+\}/.test(prefix)) {
    throw new HooklineError("invalid_option", `in a Redis Cluster, prefix must hold a hash tag such as "{hookline}"`);
  }
  const sweepIntervalMs = positive("sweepIntervalMs", options.sweepIntervalMs ?? 5_000, 2_147_483_647);
  const keys = [`${prefix}:`];
  const runScript = scriptRunner(connection);
  let queue: Queue<JobData> | undefined;
  const jobsQueue = () => {
    if (!queue) {
      queue = new Queue<JobData>(name, { connection, prefix });
      // The connection's errors while Redis is away: your listener on the connection hears them, and an add that
      // fails rejects its caller. Without a listener BullMQ would print each to the console.
      queue.on("error", () => {});
    }
    return queue;
  };
  return {
    connection,
    prefix,
    sweepIntervalMs,
    run: async <Reply>(script: LuaScript, args: (string | number)[]) =>
      (await runScript(script, keys, args.map(String))) as Reply,
    async addJobs(triples) {
      if (triples.length === 0) return;
      const jobs = [];
      for (let i = 0; i < triples.length; i += 3) {
        const d = triples[i]!;
        const v = Number(triples[i + 1]);
        const delay = Number(triples[i + 2]);
        jobs.push({ name, data: { d, v }, opts: { ...JOB_OPTIONS, jobId: `${d}-${v}`, delay } });
      }
      if (jobs.length === 1) await jobsQueue().add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
      else await jobsQueue().addBulk(jobs);
    },
    async close() {
      await queue?.close();
      queue = undefined;
    },
  };
}

/** What a worker of a {@link JobEngine} needs besides the caller's work options. */
export interface LeaseWorkerOptions {
  /**
   * Runs one job: claims its work (a script), processes it, settles it (a script). Calls `busy(ms)` when the claim
   * found the work leased by another worker, to try again when that lease ends.
   */
  run(job: Job<JobData>, busy: (ms: number) => Promise<never>, report: (error: unknown) => void): Promise<void>;
  /** The repair round: returns the jobs to add. */
  sweep(): Promise<Flat>;
}

/** Thrown by a processor's run once its error went to `onError`, so that it goes there once. */
const reportedErrors = new WeakSet<object>();

/**
 * A BullMQ worker whose lock is the lease, with the repair round on a timer; `stop()` waits for the runs in flight
 * and closes the worker's connections.
 */
export function leaseWorker(
  engine: JobEngine,
  name: string,
  work: { concurrency: number; leaseMs: number; onError?(error: unknown): void },
  options: LeaseWorkerOptions,
): { stop(): Promise<void> } {
  const { onError } = work;
  const concurrency = positive("concurrency", work.concurrency);
  const leaseMs = positive("leaseMs", work.leaseMs, 2_147_483_647);
  const report = (error: unknown) => {
    if (typeof error === "object" && error !== null) reportedErrors.add(error);
    try {
      onError?.(error);
    } catch {
      // A failing error handler must not stop the worker.
    }
  };
  const worker = new QueueWorker<JobData>(
    name,
    async (job, token) => {
      const busy = async (ms: number): Promise<never> => {
        // A job recovered while its lease still runs (its lock ended first): try again when the lease ends.
        await job.moveToDelayed(Date.now() + ms, token);
        throw new DelayedError();
      };
      try {
        await options.run(job, busy, report);
      } catch (error) {
        // A processor that threw, or Redis out of reach: BullMQ retries the job in a second; until the lease ends
        // that try finds the work busy and waits for the lease's end.
        if (!(error instanceof DelayedError) && !reportedErrors.has(error as object)) report(error);
        throw error;
      }
    },
    {
      connection: engine.connection,
      prefix: engine.prefix,
      concurrency,
      // The lease is BullMQ's lock, not renewed: a job not finished by then is recovered by the stalled check.
      lockDuration: leaseMs,
      skipLockRenewal: true,
      stalledInterval: Math.min(leaseMs, 30_000),
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    },
  );
  worker.on("error", (error) => {
    // A worker whose lease ended finds its job recovered by another (or finished): BullMQ then cannot complete
    // it. That is the fencing at work, not an error.
    if (!/^Missing (key|lock) for job/.test((error as Error).message)) report(error);
  });

  let sweeping: Promise<void> | undefined;
  const sweep = () => {
    sweeping ??= options
      .sweep()
      .then(engine.addJobs)
      .catch(report)
      .finally(() => {
        sweeping = undefined;
      });
  };
  const timer = setInterval(sweep, engine.sweepIntervalMs);
  sweep();

  return {
    async stop() {
      clearInterval(timer);
      await worker.close();
      await sweeping;
    },
  };
}

/**
 * Records a settlement (`record`: the settle script, resolving the jobs to add) and adds its jobs, then calls
 * `onSettled` whatever happened; a failure goes to `report` once and rejects.
 */
export async function recordSettlement<Job, Result>(
  engine: JobEngine,
  report: (error: unknown) => void,
  onSettled: ((job: Job, settlement: Result) => void) | undefined,
  job: Job,
  settlement: Result,
  record: () => Promise<Flat>,
): Promise<void> {
  try {
    await engine.addJobs(await record());
  } catch (error) {
    report(error);
    throw error;
  } finally {
    try {
      onSettled?.(job, settlement);
    } catch (error) {
      report(error);
    }
  }
}
