import { HooklineError } from "../errors";

/** Options of {@link claimLoop}. */
export interface ClaimLoopOptions<Job> {
  /**
   * Claims up to `limit` due jobs, each under a lease the engine records; resolves fewer (or none) when fewer are
   * due or per-key limits hold the rest back. A rejection counts as the backing store being unreachable: the loop
   * backs off and tries again.
   */
  claim(limit: number): Promise<readonly Job[]>;
  /**
   * Attempts one claimed job and records how it ended. A rejection goes to `onError`; the job's lease then runs
   * out on its own and the job is claimed again.
   */
  run(job: Job): Promise<void>;
  /**
   * In how many milliseconds the next job is due (0 or less: now), `undefined` when nothing is pending: the loop
   * sleeps that long (at most `pollMs`) unless woken. Without it the loop polls every `pollMs` when idle.
   */
  dueIn?(): Promise<number | undefined>;
  /** Jobs in flight at once. */
  concurrency: number;
  /**
   * The longest sleep while idle: how soon work made due by another process is seen when nothing wakes this one.
   * @default 1000
   */
  pollMs?: number;
  /**
   * After a failed `claim` or `dueIn` the loop waits `minMs`, doubling on each further failure up to `maxMs`.
   * @default { minMs: 100, maxMs: 5000 }
   */
  backoff?: { minMs?: number; maxMs?: number };
  /** A rejected `claim`, `dueIn` or `run`. The loop goes on. */
  onError?(error: unknown): void;
}

/** A running {@link claimLoop}. */
export interface ClaimLoop {
  /** Claims at once instead of waiting for the next poll: call it when work became due (enqueue, NOTIFY…). */
  wake(): void;
  /** Claims nothing more, waits for the jobs in flight, and clears its timer. */
  stop(): Promise<void>;
}

// A claim that came back short while `dueIn` says work is due means per-key limits (or another worker's lease)
// hold it back: sleep a little rather than spin until a job of ours ends and wakes the loop.
const HELD_BACK_MS = 25;

/**
 * The work loop of an engine that claims (pulls) due jobs: the memory engine, PostgreSQL's `FOR UPDATE SKIP
 * LOCKED`, the receiver's inbox. It keeps up to `concurrency` jobs in flight, claims again as soon as one ends,
 * sleeps until the next job is due when there is nothing to claim (or until {@link ClaimLoop.wake}), backs off
 * while the store is unreachable, and on `stop()` waits for what is in flight. Leases, per-key limits and due
 * times are the engine's: they live in `claim`.
 *
 * @example
 * const loop = claimLoop({
 *   concurrency: 10,
 *   claim: (limit) => claimDue(limit, leaseMs),
 *   run: async (job) => settle(job, await processor(job)),
 *   dueIn: () => store.deliveries.dueIn(),
 * });
 * // on NOTIFY: loop.wake(); on shutdown: await loop.stop();
 */
export function claimLoop<Job>(options: ClaimLoopOptions<Job>): ClaimLoop {
  const { claim, run, dueIn, concurrency, pollMs = 1000, onError = () => {} } = options;
  const minBackoff = options.backoff?.minMs ?? 100;
  const maxBackoff = options.backoff?.maxMs ?? 5000;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new HooklineError("invalid_option", `concurrency must be a whole number ≥ 1, got ${concurrency}`);
  }
  if (!(pollMs > 0)) throw new HooklineError("invalid_option", `pollMs must be > 0, got ${pollMs}`);
  if (!(minBackoff > 0 && maxBackoff >= minBackoff)) {
    throw new HooklineError("invalid_option", "backoff must be { minMs, maxMs } with 0 < minMs ≤ maxMs");
  }

  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let pumping: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const report = (error: unknown) => {
    try {
      onError(error);
    } catch {
      // A failing error handler must not stop the loop.
    }
  };

  function sleep(ms: number) {
    clearTimeout(timer);
    timer = setTimeout(pump, ms);
  }

  function start(job: Job) {
    const running: Promise<void> = run(job)
      .catch(report)
      .finally(() => {
        inFlight.delete(running);
        pump();
      });
    inFlight.add(running);
  }

  // One claim round at a time; a wake or a job's end during a round makes the round go again.
  function pump() {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    clearTimeout(timer);
    timer = undefined;
    pumping = round().finally(() => {
      pumping = undefined;
      // A wake that came after the round's last look.
      if (again) pump();
    });
  }

  async function round() {
    try {
      while (!stopped) {
        again = false;
        const free = concurrency - inFlight.size;
        if (free <= 0) return; // the next job to end pumps again
        const jobs = await claim(free);
        failures = 0;
        for (const job of jobs) start(job);
        if (jobs.length === free || again) continue;
        const due = stopped ? undefined : await dueIn?.();
        if (again) continue;
        if (!stopped) sleep(due === undefined ? pollMs : Math.min(pollMs, Math.max(due, HELD_BACK_MS)));
        return;
      }
    } catch (error) {
      report(error);
      failures++;
      if (!stopped) sleep(Math.min(maxBackoff, minBackoff * 2 ** (failures - 1)));
    }
  }

  pump();

  return {
    wake: pump,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      // A round in progress may still start the jobs it claimed: they are leased to us, so run them out.
      while (pumping || inFlight.size > 0) {
        await pumping;
        await Promise.all(inFlight);
      }
    },
  };
}
