import { claimLoop } from "./claim-loop";
import type { Processor, Worker } from "./types";

/** What {@link memoryWorker} needs from an in-memory engine. */
export interface MemoryWorkerOptions<Job, Result> {
  processor: Processor<Job, Result>;
  concurrency: number;
  pollMs: number;
  /** Claims up to `limit` due jobs under leases, in the engine's memory. */
  claim(limit: number): Job[];
  /** Records a settlement (the engine checks the lease). */
  settle(job: Job, result: Result): void;
  /** In how many ms the next job is due, `undefined` when none is pending. */
  dueIn(): number | undefined;
  onError?: ((error: unknown) => void) | undefined;
  onSettled?: ((job: Job, result: Result) => void) | undefined;
}

/**
 * A worker of an in-memory engine (deliveries, the inbox): a {@link claimLoop} whose claims and settlements are
 * plain calls on the engine's state, registered in `loops` while it runs so that the engine's writes wake it.
 */
export function memoryWorker<Job, Result>(
  loops: Set<{ wake(): void }>,
  options: MemoryWorkerOptions<Job, Result>,
): Worker {
  const { processor, settle, onSettled, onError } = options;
  const loop = claimLoop<Job>({
    concurrency: options.concurrency,
    pollMs: options.pollMs,
    claim: async (limit) => options.claim(limit),
    run: async (job) => {
      const result = await processor(job);
      settle(job, result);
      onSettled?.(job, result);
    },
    dueIn: async () => options.dueIn(),
    ...(onError && { onError }),
  });
  loops.add(loop);
  return {
    async stop() {
      loops.delete(loop);
      await loop.stop();
    },
  };
}
