import { HooklineError } from "@hookline/core";
import { describe, expect, it } from "vitest";
import { type PostgresClient, postgresDeadLetters, postgresSchema, postgresStore } from "../src/index";

// No database here: what is refused before any statement runs.
const pgLike: PostgresClient = { query: async () => ({ rows: [] }) };

const refusal = (build: () => unknown) => {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(HooklineError);
    expect((error as HooklineError).code).toBe("invalid_option");
    return (error as Error).message;
  }
  throw new Error("expected an invalid_option error");
};

describe("table names", () => {
  it.each(["claims", "webhooks.claims", "_Claims2", "a".repeat(47), `${"s".repeat(63)}.t`])("accepts %s", (table) => {
    expect(() => postgresStore({ client: pgLike, table })).not.toThrow();
    expect(() => postgresDeadLetters({ client: pgLike, table })).not.toThrow();
  });

  it.each([
    "",
    "claims; DROP TABLE users; --",
    'claims"',
    "a.b.c",
    ".claims",
    "webhooks.",
    "1claims",
    "claims-2",
    "claims ",
    "a".repeat(48),
    `${"s".repeat(64)}.t`,
    "clé",
  ])("refuses %j", (table) => {
    expect(refusal(() => postgresStore({ client: pgLike, table }))).toContain("table must be a table name");
    refusal(() => postgresDeadLetters({ client: pgLike, table }));
    refusal(() => postgresSchema({ table }));
  });

  it("quotes every part, so a name is used exactly as written", () => {
    const sql = postgresSchema({ table: "Webhooks.Claims", deadLetterTable: "webhooks.letters" });
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "Webhooks"."Claims" (');
    expect(sql).toContain('CREATE INDEX IF NOT EXISTS "Claims_expires_at" ON "Webhooks"."Claims" (expires_at)');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "webhooks"."letters" (');
  });
});

describe("options", () => {
  it("refuses a client it cannot drive", () => {
    for (const client of [{}, null, "postgres://127.0.0.1/db", () => {}]) {
      expect(refusal(() => postgresStore({ client: client as unknown as PostgresClient }))).toContain(
        "pg Pool or Client, a postgres.js sql instance or a PGlite instance",
      );
    }
  });

  it.each(["leaseMs", "retentionMs", "timeoutMs"] as const)("refuses a %s that is not a positive number", (name) => {
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(refusal(() => postgresStore({ client: pgLike, [name]: value }))).toContain(name);
    }
  });

  it("refuses a dead-letter list limit that is not a whole number", async () => {
    const letters = postgresDeadLetters({ client: pgLike });
    await expect(letters.list({ limit: 1.5 })).rejects.toThrow(/limit/);
  });
});
