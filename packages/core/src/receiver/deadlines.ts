export const TIMEOUT = Symbol("timeout");

/**
 * One coarse timer for all the deliveries whose handlers are still running, instead of a timer and a
 * `Promise.race` each: while any wait, it ticks every tenth of the timeout (at most every second) and answers the
 * waits whose time is up, so a 202 comes between `timeoutMs` and one tick later. It does not hold the process open
 * once nothing waits.
 */
export function deadlines(timeoutMs: number) {
  const tickMs = Math.min(1_000, Math.max(1, Math.ceil(timeoutMs / 10)));
  const waiting = new Set<{ at: number; expire: () => void }>();
  let timer: ReturnType<typeof setInterval> | undefined;

  function tick() {
    const now = performance.now();
    for (const wait of waiting) {
      if (wait.at <= now) {
        waiting.delete(wait);
        wait.expire();
      }
    }
    if (waiting.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  return {
    /** The work's outcome, or {@link TIMEOUT} once `timeoutMs` passed first. `work` must never reject. */
    race<T>(work: Promise<T>): Promise<T | typeof TIMEOUT> {
      return new Promise((resolve) => {
        const wait = { at: performance.now() + timeoutMs, expire: () => resolve(TIMEOUT) };
        if (timer === undefined) timer = setInterval(tick, tickMs);
        else if (waiting.size === 0) (timer as { ref?: () => void }).ref?.();
        waiting.add(wait);
        void work.then((value) => {
          if (waiting.delete(wait) && waiting.size === 0) (timer as { unref?: () => void } | undefined)?.unref?.();
          resolve(value);
        });
      });
    },
  };
}
