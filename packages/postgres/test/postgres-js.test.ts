import { runDeadLetterContract, runStoreContract, serviceUrl } from "@hookline/testing";
import { afterAll, beforeAll, describe, it } from "vitest";
import { postgresDeadLetters, postgresStore } from "../src/index";
import { postgresJsDatabase, type TestDatabase } from "./databases";
import { runKeyScenarios } from "./keys";
import { runReceiverScenarios } from "./receiver-scenarios";

const url = serviceUrl("DATABASE_URL");

describe.skipIf(!url)("PostgreSQL server through postgres.js", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await postgresJsDatabase(url!);
  });
  afterAll(() => database?.close());

  runStoreContract(
    "postgresStore on postgres.js",
    () => postgresStore({ client: database.client, table: database.table }),
    {
      describe,
      it,
    },
  );
  runDeadLetterContract(
    "postgresDeadLetters on postgres.js",
    () => postgresDeadLetters({ client: database.client, table: database.deadLetterTable }),
    { describe, it },
  );
  runReceiverScenarios("postgres.js", () => database, { describe, it });
  runKeyScenarios("postgres.js", () => database, { describe, it });
});
