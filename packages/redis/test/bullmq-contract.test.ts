import { runDeliveryStoreContract, serviceUrl } from "@hookline/testing";
import { Redis } from "ioredis";
import { afterAll, describe, it } from "vitest";
import { bullmqDeliveries } from "../src/bullmq";
import { deleteKeys } from "./redis-server";

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("bullmqDeliveries", () => {
  const connection = url ? new Redis(url, { maxRetriesPerRequest: null }) : undefined;
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeys(connection!, prefix);
    connection?.disconnect();
  });

  // Each test gets an engine under a prefix of its own: `work` takes every due delivery in its engine.
  runDeliveryStoreContract(
    "bullmq",
    () => {
      const prefix = `{hookline-contract-${crypto.randomUUID()}}`;
      prefixes.push(prefix);
      return bullmqDeliveries({ connection: connection!, prefix });
    },
    { describe, it },
  );
});
