import { runInboxContract, serviceUrl } from "@hookline/core/testing";
import { Redis } from "ioredis";
import { afterAll, describe, it } from "vitest";
import { bullmqInbox } from "../src/bullmq";
import { deleteKeys } from "./redis-server";

const url = serviceUrl("REDIS_URL");

describe.skipIf(!url)("bullmqInbox", () => {
  const connection = url ? new Redis(url, { maxRetriesPerRequest: null }) : undefined;
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeys(connection!, prefix);
    connection?.disconnect();
  });

  // Each test gets an inbox under a prefix of its own: `work` takes every due event in its inbox.
  runInboxContract(
    "bullmq",
    () => {
      const prefix = `{hookline-inbox-${crypto.randomUUID()}}`;
      prefixes.push(prefix);
      return bullmqInbox({ connection: connection!, prefix });
    },
    { describe, it },
  );
});
