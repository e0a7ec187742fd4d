import { HooklineError } from "../errors";
import type { IpAddress } from "../ip";

/**
 * What a receiver needs of a rate limiter: the shape of rate-limiter-flexible's limiters (`RateLimiterMemory`,
 * `RateLimiterRedis`, `RateLimiterPostgres`, …), so that any of them fits and the core depends on none. `consume`
 * rejects with a result carrying `msBeforeNext` when the key has no points left, or with an `Error` when the
 * limiter's store fails.
 */
export interface RateLimiter {
  /** The points a key may consume per duration. */
  readonly points: number;
  consume(key: string, points?: number): Promise<unknown>;
  get(key: string): Promise<{ consumedPoints: number; msBeforeNext: number } | null>;
}

/**
 * Limits per peer address (the connection's, or a trusted proxy's `x-forwarded-for`), an IPv6 peer by its /64
 * (one host commonly holds the whole /64). A refused delivery gets 429 with `Retry-After` before its body is read.
 * Keys are `requests:<peer>` and `failures:<peer>`, so one limiter, or two with the same `keyPrefix`, can serve
 * both. Give limiters on a shared store (Redis, PostgreSQL) so that the
 * limit holds across instances. If a limiter's store fails, deliveries are let through (and the failure logged):
 * rate limiting protects the receiver, it must not take it down.
 *
 * @example
 * import { RateLimiterRedis } from "rate-limiter-flexible";
 * createReceiver({
 *   secret,
 *   rateLimit: {
 *     requests: new RateLimiterRedis({ storeClient: redis, keyPrefix: "hookline:requests", points: 100, duration: 1 }),
 *     failures: new RateLimiterRedis({ storeClient: redis, keyPrefix: "hookline:failures", points: 10, duration: 600 }),
 *   },
 * });
 */
export interface RateLimitOptions {
  /**
   * Deliveries per peer: each consumes a point; past the limit, 429 `rate_limited`.
   * @default undefined (no limit)
   */
  requests?: RateLimiter;
  /**
   * Failed verifications (401s) per peer: each consumes a point; a peer with none left gets 429
   * `too_many_failures` before anything else is done. Valid deliveries never consume from it, so it can be far
   * stricter than `requests`: it throttles signature guessing, not senders. The budget is read before the body
   * and spent after the verification, so guesses already in flight when it runs out still finish: a peer gets at
   * most `points` plus its concurrency per duration.
   * @default undefined (no limit)
   */
  failures?: RateLimiter;
}

/** Why a delivery was refused, and when to try again. */
export interface RateLimited {
  code: "rate_limited" | "too_many_failures";
  retryAfterMs: number;
}

/**
 * The peer's key: its IPv4 address, an IPv6 one's /64 (its first four groups, as `2001:db8:0:1::/64`), or
 * `unknown` (such deliveries share one budget).
 */
function peerKey(address: IpAddress | undefined): string {
  if (address === undefined) return "unknown";
  if (address.length === 4) return address.join(".");
  const groups = [0, 2, 4, 6].map((i) => (((address[i] as number) << 8) | (address[i + 1] as number)).toString(16));
  return `${groups.join(":")}::/64`;
}

function limitedFor(rejection: unknown): number | undefined {
  const ms = (rejection as { msBeforeNext?: unknown } | null)?.msBeforeNext;
  return !(rejection instanceof Error) && typeof ms === "number" ? ms : undefined;
}

/**
 * The rate-limit step of a receiver: `admit` before the body is read, `failed` after a failed verification.
 * `onError` hears a limiter's store failure (the delivery is then let through).
 */
export function rateLimitStep(options: RateLimitOptions | undefined, onError: (error: unknown) => void) {
  const { requests, failures } = options ?? {};
  for (const [name, limiter] of Object.entries({ requests, failures })) {
    // A limiter without `get` (rate-limiter-flexible's RateLimiterUnion, say) fails here, not on each delivery.
    const fits =
      limiter === undefined ||
      (typeof limiter.consume === "function" && typeof limiter.get === "function" && limiter.points > 0);
    if (!fits) {
      throw new HooklineError(
        "invalid_option",
        `rateLimit.${name} must be a rate limiter with points, consume and get (rate-limiter-flexible's)`,
      );
    }
  }
  /** Consumes a point: `undefined` when granted (or the store failed), else the milliseconds to wait. */
  const consume = (limiter: RateLimiter, key: string): Promise<number | undefined> =>
    limiter.consume(key).then(
      () => undefined,
      (rejection: unknown) => {
        const ms = limitedFor(rejection);
        if (ms === undefined) onError(rejection);
        return ms;
      },
    );

  return {
    /** Whether any limit is set: without one, a delivery skips the step (and its promise). */
    enabled: requests !== undefined || failures !== undefined,

    /** `address`: the peer's, as `peerAddress` gives it, or `undefined` (unknown). */
    async admit(address: IpAddress | undefined): Promise<RateLimited | undefined> {
      const key = peerKey(address);
      const [failed, waitMs] = await Promise.all([
        failures?.get(`failures:${key}`).catch((error: unknown) => void onError(error)),
        requests && consume(requests, `requests:${key}`),
      ]);
      if (failed && failures && failed.consumedPoints >= failures.points) {
        return { code: "too_many_failures", retryAfterMs: failed.msBeforeNext };
      }
      return waitMs === undefined ? undefined : { code: "rate_limited", retryAfterMs: waitMs };
    },

    async failed(address: IpAddress | undefined): Promise<void> {
      if (failures) await consume(failures, `failures:${peerKey(address)}`);
    },
  };
}
