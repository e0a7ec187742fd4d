import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  classifyDelivery,
  type DeliveryOutcome,
  exponentialBackoff,
  fixedSchedule,
  HooklineError,
  type Jitter,
  nextDelay,
  type RetrySchedule,
  retrySchedules,
} from "../src";
import { DEFAULT_INBOX_DELAYS } from "../src/receiver/inbox";

const s = 1000;
const min = 60 * s;
const h = 60 * min;

function delays(schedule: RetrySchedule): (number | undefined)[] {
  return Array.from({ length: schedule.maxAttempts + 1 }, (_, i) => schedule.delayFor(i + 1));
}

function expectInvalidOption(run: () => unknown): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(HooklineError);
  expect(error).toMatchObject({ code: "invalid_option" });
}

const config = fc.record({
  base: fc.integer({ min: 1, max: 60 * s }),
  factor: fc.double({ min: 1, max: 10, noNaN: true }),
  capOver: fc.integer({ min: 0, max: 48 * h }),
  maxAttempts: fc.integer({ min: 1, max: 40 }),
});
const jitter = fc.constantFrom<Jitter>("none", "full", "equal", "proportional");
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("presets", () => {
  it("holds the published schedules exactly", () => {
    expect(retrySchedules.standardWebhooks).toEqual([
      0,
      5 * s,
      5 * min,
      30 * min,
      2 * h,
      5 * h,
      10 * h,
      14 * h,
      20 * h,
      24 * h,
    ]);
    expect(retrySchedules.svix).toEqual([0, 5 * s, 5 * min, 30 * min, 2 * h, 5 * h, 10 * h, 10 * h]);
    expect(retrySchedules.guide).toEqual([0, 5 * s, 25 * s, 2 * min, 10 * min, h]);
  });

  it("turns a preset into a schedule that ends after its last delay", () => {
    const schedule = fixedSchedule(retrySchedules.svix);
    expect(schedule.maxAttempts).toBe(8);
    expect(delays(schedule)).toEqual([...retrySchedules.svix, undefined]);
  });

  it("copies the delays, so later edits to the array change nothing", () => {
    const array = [0, 1000];
    const schedule = fixedSchedule(array);
    array[1] = 5;
    array.push(9);
    expect(delays(schedule)).toEqual([0, 1000, undefined]);
  });

  it("rejects empty, negative and non-finite delays", () => {
    expectInvalidOption(() => fixedSchedule([]));
    expectInvalidOption(() => fixedSchedule([0, -1]));
    expectInvalidOption(() => fixedSchedule([0, Number.NaN]));
    expectInvalidOption(() => fixedSchedule([0, Number.POSITIVE_INFINITY]));
  });
});

describe("exponentialBackoff", () => {
  it("computes base × factor^(n-2), capped, with the first attempt at once", () => {
    const schedule = exponentialBackoff({ base: 1000, factor: 3, cap: 60_000, maxAttempts: 7, jitter: "none" });
    expect(delays(schedule)).toEqual([0, 1000, 3000, 9000, 27_000, 60_000, 60_000, undefined]);
  });

  it("has documented defaults: 10 attempts from 5 s doubling, equal jitter", () => {
    const low = exponentialBackoff({ random: () => 0 });
    expect(low.maxAttempts).toBe(10);
    expect(delays(low)).toEqual([0, 2500, 5000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, undefined]);
    expect(exponentialBackoff({ jitter: "none", maxAttempts: 12 }).delayFor(12)).toBe(h);
  });

  it("applies each jitter mode to the computed delay", () => {
    const at = (jitter: Jitter, r: number, ratio?: number) =>
      exponentialBackoff({ base: 1000, factor: 2, cap: 10_000, jitter, ratio, random: () => r }).delayFor(3);
    expect(at("none", 0.5)).toBe(2000);
    expect(at("full", 0)).toBe(0);
    expect(at("full", 0.25)).toBe(500);
    expect(at("equal", 0)).toBe(1000);
    expect(at("equal", 0.5)).toBe(1500);
    expect(at("proportional", 0)).toBe(1800);
    expect(at("proportional", 0.5)).toBe(2000);
    expect(at("proportional", 0.999_999)).toBe(2200);
    expect(at("proportional", 0, 0.5)).toBe(1000);
  });

  it("caps proportional jitter that would go above the cap", () => {
    const schedule = exponentialBackoff({
      base: 1000,
      cap: 1000,
      jitter: "proportional",
      ratio: 1,
      random: () => 0.99,
    });
    expect(schedule.delayFor(2)).toBe(1000);
  });

  it("survives factor^n overflowing", () => {
    const schedule = exponentialBackoff({ base: 1, factor: 10, cap: 5000, maxAttempts: 1000, jitter: "none" });
    expect(schedule.delayFor(1000)).toBe(5000);
  });

  it("rejects invalid options", () => {
    for (const options of [
      { base: 0 },
      { base: -1 },
      { base: Number.NaN },
      { factor: 0.5 },
      { factor: Number.POSITIVE_INFINITY },
      { base: 5000, cap: 4999 },
      { cap: Number.POSITIVE_INFINITY },
      { maxAttempts: 0 },
      { maxAttempts: 2.5 },
      { maxAttempts: Number.POSITIVE_INFINITY },
      { jitter: "random" as Jitter },
      { ratio: -0.1 },
      { ratio: 1.5 },
    ]) {
      expectInvalidOption(() => exponentialBackoff(options));
    }
  });

  it("rejects attempts that are not whole numbers ≥ 1", () => {
    const schedule = exponentialBackoff();
    for (const attempt of [0, -1, 1.5, Number.NaN]) expectInvalidOption(() => schedule.delayFor(attempt));
    expectInvalidOption(() => fixedSchedule([0]).delayFor(0));
  });

  it("never decreases without jitter", () => {
    fc.assert(
      fc.property(config, ({ base, factor, capOver, maxAttempts }) => {
        const schedule = exponentialBackoff({ base, factor, cap: base + capOver, maxAttempts, jitter: "none" });
        const all = delays(schedule).slice(0, maxAttempts) as number[];
        for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThanOrEqual(all[i - 1]!);
      }),
    );
  });

  it("never exceeds the cap, in every jitter mode", () => {
    fc.assert(
      fc.property(config, jitter, unit, unit, ({ base, factor, capOver, maxAttempts }, jitter, ratio, r) => {
        const cap = base + capOver;
        const schedule = exponentialBackoff({ base, factor, cap, maxAttempts, jitter, ratio, random: () => r });
        for (const delay of delays(schedule).slice(0, maxAttempts)) {
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(cap);
        }
      }),
    );
  });

  it("keeps jitter within its band around the unjittered delay", () => {
    fc.assert(
      fc.property(config, jitter, unit, unit, ({ base, factor, capOver, maxAttempts }, jitter, ratio, r) => {
        const options = { base, factor, cap: base + capOver, maxAttempts };
        const jittered = exponentialBackoff({ ...options, jitter, ratio, random: () => r });
        for (let attempt = 2; attempt <= maxAttempts; attempt++) {
          // The unrounded delay; both bounds allow for rounding to whole milliseconds.
          const d = Math.min(options.cap, base * factor ** (attempt - 2));
          const bands: Record<Jitter, [number, number]> = {
            none: [d, d],
            full: [0, d],
            equal: [d / 2, d],
            proportional: [d * (1 - ratio), Math.min(options.cap, d * (1 + ratio))],
          };
          const [low, high] = bands[jitter];
          const delay = jittered.delayFor(attempt)!;
          expect(delay).toBeGreaterThanOrEqual(Math.floor(low));
          expect(delay).toBeLessThanOrEqual(Math.ceil(high));
        }
      }),
    );
  });

  it("ends: no delay after maxAttempts, for any schedule", () => {
    fc.assert(
      fc.property(
        config,
        jitter,
        fc.integer({ min: 1, max: 100 }),
        ({ base, factor, capOver, maxAttempts }, jitter, past) => {
          const schedule = exponentialBackoff({ base, factor, cap: base + capOver, maxAttempts, jitter });
          expect(schedule.maxAttempts).toBe(maxAttempts);
          expect(schedule.delayFor(maxAttempts)).toBeTypeOf("number");
          expect(schedule.delayFor(maxAttempts + past)).toBeUndefined();
        },
      ),
    );
  });
});

describe("classifyDelivery", () => {
  it.each([
    [200, "success"],
    [201, "success"],
    [204, "success"],
    [299, "success"],
    [410, "disable"],
    [408, "retry"],
    [429, "retry"],
    [500, "retry"],
    [502, "retry"],
    [503, "retry"],
    [504, "retry"],
    [599, "retry"],
    [408, "retry"],
    [409, "retry"],
    [429, "retry"],
    [100, "final"],
    [101, "final"],
    [301, "final"],
    [302, "final"],
    [307, "final"],
    [400, "final"],
    [401, "final"],
    [403, "final"],
    [404, "final"],
    [413, "final"],
    [422, "final"],
  ] as const)("classifies %i as %s", (status, kind) => {
    expect(classifyDelivery({ status })).toEqual({ kind });
  });

  it("classifies every status in its class", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), (status) => {
        const { kind } = classifyDelivery({ status, headers: { "retry-after": "1" } });
        if (status >= 200 && status < 300) expect(kind).toBe("success");
        else if (status === 410) expect(kind).toBe("disable");
        else if (status === 408 || status === 409 || status === 429 || status >= 500) expect(kind).toBe("retry");
        else expect(kind).toBe("final");
      }),
    );
  });

  it("retries a network error or timeout", () => {
    expect(classifyDelivery({ error: new TypeError("fetch failed") })).toEqual({ kind: "retry" });
    expect(classifyDelivery({ error: new DOMException("timed out", "TimeoutError") })).toEqual({ kind: "retry" });
  });

  it("takes a Fetch Response as it is", () => {
    const response = new Response(null, { status: 503, headers: { "Retry-After": "120" } });
    expect(classifyDelivery(response)).toEqual({ kind: "retry", retryAfter: 120 * s });
  });
});

describe("Retry-After", () => {
  const now = Date.UTC(2015, 9, 21, 7, 28, 0);
  const retryAfter = (value: string, options = {}) =>
    classifyDelivery({ status: 429, headers: { "Retry-After": value } }, { now, ...options });

  it("reads delta seconds", () => {
    expect(retryAfter("120")).toEqual({ kind: "retry", retryAfter: 120 * s });
    expect(retryAfter(" 0 ")).toEqual({ kind: "retry", retryAfter: 0 });
  });

  it("reads an HTTP date relative to now, as a number or a Date", () => {
    expect(retryAfter("Wed, 21 Oct 2015 07:30:30 GMT")).toEqual({ kind: "retry", retryAfter: 150 * s });
    expect(retryAfter("Wed, 21 Oct 2015 07:30:30 GMT", { now: new Date(now + 30 * s) })).toEqual({
      kind: "retry",
      retryAfter: 120 * s,
    });
  });

  it("reads it from Fetch Headers and from a record in any case", () => {
    const headers = new Headers({ "retry-after": "7" });
    expect(classifyDelivery({ status: 503, headers })).toEqual({ kind: "retry", retryAfter: 7 * s });
    expect(classifyDelivery({ status: 503, headers: { "RETRY-AFTER": "7" } })).toEqual({
      kind: "retry",
      retryAfter: 7 * s,
    });
  });

  it("counts a date in the past as no wait", () => {
    expect(retryAfter("Wed, 21 Oct 2015 07:00:00 GMT")).toEqual({ kind: "retry", retryAfter: 0 });
  });

  it.each([
    "soon",
    "",
    "-5",
    "1.5",
    "+3",
    "12abc",
    "Wed, 32 Oct 2015 07:28:00 GMT",
    "Sunday, 21-Oct-15 07:30:30 GMT",
    "Wed Oct 21 07:30:30 2015",
    "2015-10-21T07:30:30Z",
  ])("ignores the malformed %j", (value) => {
    expect(retryAfter(value)).toEqual({ kind: "retry" });
  });

  it("clamps to 0 to 24 hours by default", () => {
    expect(retryAfter(String(25 * 3600))).toEqual({ kind: "retry", retryAfter: 24 * h });
    expect(retryAfter("9".repeat(400))).toEqual({ kind: "retry", retryAfter: 24 * h });
  });

  it("clamps to a configured range", () => {
    const range = { retryAfter: { min: 10 * s, max: 5 * min } };
    expect(retryAfter("1", range)).toEqual({ kind: "retry", retryAfter: 10 * s });
    expect(retryAfter("60", range)).toEqual({ kind: "retry", retryAfter: 60 * s });
    expect(retryAfter("3600", range)).toEqual({ kind: "retry", retryAfter: 5 * min });
    expect(retryAfter("Wed, 21 Oct 2015 07:00:00 GMT", range)).toEqual({ kind: "retry", retryAfter: 10 * s });
  });

  it("stays within the range for any delta", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: h }), fc.nat({ max: 48 * h }), (seconds, low, span) => {
        const { retryAfter: delay } = retryAfter(String(seconds), { retryAfter: { min: low, max: low + span } }) as {
          retryAfter: number;
        };
        expect(delay).toBe(Math.min(low + span, Math.max(low, seconds * s)));
      }),
    );
  });

  it("is ignored on outcomes other than retry", () => {
    for (const status of [200, 301, 404, 410]) {
      expect(classifyDelivery({ status, headers: { "retry-after": "60" } })).not.toHaveProperty("retryAfter");
    }
  });

  it("rejects an invalid range or now", () => {
    expectInvalidOption(() => retryAfter("1", { retryAfter: { min: -1 } }));
    expectInvalidOption(() => retryAfter("1", { retryAfter: { min: 10, max: 5 } }));
    expectInvalidOption(() => retryAfter("1", { retryAfter: { max: Number.NaN } }));
    expectInvalidOption(() => retryAfter("1", { now: new Date(Number.NaN) }));
  });
});

describe("nextDelay", () => {
  const schedule = fixedSchedule(retrySchedules.guide);
  const retry: DeliveryOutcome = { kind: "retry" };

  it("follows the schedule on retry", () => {
    expect(nextDelay(schedule, 1, retry)).toBe(5 * s);
    expect(nextDelay(schedule, 5, retry)).toBe(h);
  });

  it("gives up once the schedule has no more attempts", () => {
    expect(nextDelay(schedule, 6, retry)).toBeUndefined();
    expect(nextDelay(schedule, 6, { kind: "retry", retryAfter: 1000 })).toBeUndefined();
  });

  it("gives up on every outcome other than retry", () => {
    for (const kind of ["success", "final", "disable"] as const)
      expect(nextDelay(schedule, 1, { kind })).toBeUndefined();
  });

  it("waits for Retry-After when it is longer than the schedule, never shorter", () => {
    expect(nextDelay(schedule, 2, { kind: "retry", retryAfter: 60 * s })).toBe(60 * s);
    expect(nextDelay(schedule, 2, { kind: "retry", retryAfter: 10 * s })).toBe(25 * s);
  });

  it("rejects attempt 0", () => {
    expectInvalidOption(() => nextDelay(schedule, 0, retry));
  });
});

describe("the inbox's default schedule", () => {
  it("is exponentialBackoff({ base: 5_000, factor: 3, cap: 3_600_000, maxAttempts: 8 }) with equal jitter", () => {
    for (const r of [0, 0.1, 0.25, 0.5, 0.77, 0.999]) {
      const random = () => r;
      const fixed = fixedSchedule(DEFAULT_INBOX_DELAYS, { jitter: 1 / 3, random });
      const backoff = exponentialBackoff({ base: 5_000, factor: 3, cap: 3_600_000, maxAttempts: 8, random });
      expect(fixed.maxAttempts).toBe(backoff.maxAttempts);
      for (let attempt = 1; attempt <= 9; attempt++) expect(fixed.delayFor(attempt)).toBe(backoff.delayFor(attempt));
    }
  });
});
