import { serviceUrl } from "@hookline/testing";
import { RateLimiterPostgres } from "rate-limiter-flexible";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runSharedRateLimitScenarios } from "../../redis/test/rate-limit-scenarios";
import { pgDatabase } from "./databases";

const url = serviceUrl("DATABASE_URL");

describe.skipIf(!url)("rate limits on PostgreSQL (rate-limiter-flexible's RateLimiterPostgres)", () => {
  let database: Awaited<ReturnType<typeof pgDatabase>>;
  beforeAll(async () => {
    database = await pgDatabase(url!);
  });
  afterAll(() => database?.close());

  runSharedRateLimitScenarios(
    "RateLimiterPostgres on a pg Pool",
    (name, options) =>
      new Promise((resolve, reject) => {
        // Each instance creates the table if needed (IF NOT EXISTS), as a real instance does at start-up.
        const limiter: RateLimiterPostgres = new RateLimiterPostgres(
          {
            storeClient: database.pool,
            schemaName: database.schema,
            tableName: "hookline_rate_limits",
            keyPrefix: name,
            clearExpiredByTimeout: false,
            ...options,
          },
          (error?: Error) => (error ? reject(error) : resolve(limiter)),
        );
      }),
    { describe, it },
  );
});
