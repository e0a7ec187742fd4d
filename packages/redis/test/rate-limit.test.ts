import { createReceiver, generateSecret } from "@hookline/core";
import { serviceUrl, signedRequest } from "@hookline/testing";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { describe, expect, it } from "vitest";
import { runSharedRateLimitScenarios } from "./rate-limit-scenarios";
import { freePort, suiteClients, uniquePrefix } from "./redis-server";

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("rate limits on Redis (rate-limiter-flexible's RateLimiterRedis)", () => {
  const prefix = uniquePrefix("rate-limit");
  const clients = suiteClients(url!, prefix);

  runSharedRateLimitScenarios(
    "RateLimiterRedis on ioredis",
    async (name, options) =>
      new RateLimiterRedis({ storeClient: clients.ioredis, keyPrefix: `${prefix}${name}`, ...options }),
    { describe, it },
  );
  runSharedRateLimitScenarios(
    "RateLimiterRedis on node-redis",
    async (name, options) =>
      new RateLimiterRedis({
        storeClient: clients.nodeRedis,
        useRedisPackage: true,
        keyPrefix: `${prefix}${name}`,
        ...options,
      }),
    { describe, it },
  );

  it("lets deliveries through, and logs, when the limiter's Redis is down", async () => {
    const down = new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    const warnings: string[] = [];
    const secret = generateSecret();
    const receiver = createReceiver({
      secret,
      logger: { info() {}, warn: (_, message) => warnings.push(message), error() {} },
      rateLimit: {
        requests: new RateLimiterRedis({ storeClient: down, points: 1, duration: 60, rejectIfRedisNotReady: true }),
        failures: new RateLimiterRedis({ storeClient: down, points: 1, duration: 60, rejectIfRedisNotReady: true }),
      },
    }).on("order.created", () => {});
    try {
      for (let i = 0; i < 3; i++) {
        const request = await signedRequest({ secret, event: { type: "order.created", data: {} } });
        expect((await receiver.handle(request, { remoteAddress: "192.0.2.1" })).status).toBe(200);
      }
      expect(warnings).toContain("The rate limiter's store failed; the delivery was let through");
    } finally {
      down.disconnect();
    }
  });
});
