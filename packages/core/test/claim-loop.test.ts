import { describe, expect, it } from "vitest";
import { claimLoop, HooklineError } from "../src";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("claimLoop", () => {
  it("keeps at most `concurrency` jobs in flight and claims again as each one ends", async () => {
    const queue = Array.from({ length: 20 }, (_, i) => i);
    let inFlight = 0;
    let most = 0;
    const limits: number[] = [];
    const done: number[] = [];
    const loop = claimLoop<number>({
      concurrency: 3,
      claim: async (limit) => {
        limits.push(limit);
        return queue.splice(0, limit);
      },
      run: async (job) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(2);
        inFlight--;
        done.push(job);
      },
    });
    await expect.poll(() => done.length).toBe(20);
    await loop.stop();
    expect(most).toBe(3);
    expect(Math.max(...limits)).toBe(3);
  });

  it("sleeps until the next job is due, and wakes at once when told", async () => {
    const queue: number[] = [];
    let claims = 0;
    const done: number[] = [];
    const loop = claimLoop<number>({
      concurrency: 2,
      pollMs: 60_000,
      claim: async (limit) => {
        claims++;
        return queue.splice(0, limit);
      },
      run: async (job) => {
        done.push(job);
      },
      dueIn: async () => (queue.length > 0 ? 0 : undefined),
    });
    await sleep(50);
    expect(claims).toBe(1); // idle: no poll loop
    queue.push(7);
    loop.wake();
    await expect.poll(() => done).toEqual([7]);
    await loop.stop();
  });

  it("backs off while the store is unreachable, reports each failure, and recovers", async () => {
    const errors: unknown[] = [];
    const attempts: number[] = [];
    let up = false;
    const done: number[] = [];
    const loop = claimLoop<number>({
      concurrency: 1,
      backoff: { minMs: 10, maxMs: 40 },
      claim: async () => {
        attempts.push(Date.now());
        if (!up) throw new Error("connection refused");
        up = false;
        return [1];
      },
      run: async (job) => {
        done.push(job);
      },
      onError: (error) => errors.push(error),
    });
    await expect.poll(() => attempts.length).toBeGreaterThanOrEqual(4);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(9);
    expect(gaps[2]).toBeGreaterThanOrEqual(35); // 10, 20, 40: doubling up to the cap
    expect(errors.length).toBeGreaterThanOrEqual(4);
    up = true;
    await expect.poll(() => done).toEqual([1]);
    await loop.stop();
  });

  it("stop waits for the jobs in flight, reports a job that threw, and claims nothing after", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let claims = 0;
    const errors: unknown[] = [];
    const loop = claimLoop<number>({
      concurrency: 2,
      claim: async () => (claims++ === 0 ? [1, 2] : []),
      run: async (job) => {
        if (job === 2) throw new Error("job failed");
        await gate;
      },
      onError: (error) => errors.push(error),
    });
    await expect.poll(() => errors.length).toBe(1);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await sleep(30);
    expect(stopped).toBe(false);
    release();
    await stopping;
    const after = claims;
    loop.wake();
    await sleep(30);
    expect(claims).toBe(after);
  });

  it("refuses options out of range", () => {
    const base = { claim: async () => [], run: async () => {} };
    expect(() => claimLoop({ ...base, concurrency: 0 })).toThrow(HooklineError);
    expect(() => claimLoop({ ...base, concurrency: 1, pollMs: 0 })).toThrow(/pollMs/);
    expect(() => claimLoop({ ...base, concurrency: 1, backoff: { minMs: 10, maxMs: 5 } })).toThrow(/backoff/);
  });
});
