/**
 * The smoke suite the Express, Fastify and Hono examples share: each example's test file is one call. It starts
 * the example as a child process, runs `smokeTest` on its webhook route, checks that the app's own JSON route
 * still parses JSON, that a schema failure is a 400, and that the documented development secret works.
 *
 * Like `smoke.ts`, this file belongs to no package: `signedDelivery` comes from the example's own dependency.
 *
 * @example
 * exampleSmokeSuite({ server: new URL("../server.mjs", import.meta.url), secret, devSecret, parser: "express.json()", signedDelivery });
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SignDelivery, smokeTest } from "./smoke";
import { type RunningExample, startExample } from "./start-example";

/** Options of {@link exampleSmokeSuite}. */
export interface ExampleSmokeSuiteOptions {
  /** The example's entry script. */
  server: URL;
  /** The secret the test sets as WEBHOOK_SECRET. */
  secret: string;
  /** The development secret the example documents for when WEBHOOK_SECRET is unset. */
  devSecret: string;
  /** How the example parses JSON on its own routes, for the test's name (such as `express.json()`). */
  parser: string;
  /** `signedDelivery` from `@hookline/testing`. */
  signedDelivery: SignDelivery;
}

export function exampleSmokeSuite({
  server,
  secret,
  devSecret,
  parser,
  signedDelivery,
}: ExampleSmokeSuiteOptions): void {
  describe("with WEBHOOK_SECRET set", () => {
    let app: RunningExample;
    beforeAll(async () => {
      app = await startExample(server, { env: { WEBHOOK_SECRET: secret } });
    }, 20_000);
    afterAll(() => app?.stop());

    it("prints its URL on a free port and where webhooks go", () => {
      expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(app.url).not.toMatch(/:0$/);
      expect(app.webhookPath).toBe("/webhooks");
      expect(app.output()).not.toContain("development secret");
    });

    it("answers a signed event 200, its duplicate 200 duplicate and a tampered copy 401", async () => {
      const answers = await smokeTest(app.url, { secret, paths: [app.webhookPath], signedDelivery });
      expect(answers.map(({ step, status }) => `${step} ${status}`)).toEqual([
        "signed 200",
        "duplicate 200",
        "tampered 401",
      ]);
      expect(app.output()).toContain("invoice in_smoke paid: 4200 cents");
      const invoices = await fetch(`${app.url}/api/invoices`);
      expect(await invoices.json()).toEqual({ paid: { in_smoke: 4200 } });
    });

    it(`still parses JSON on its own routes with ${parser}`, async () => {
      const created = await fetch(`${app.url}/api/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ item: "widget", quantity: 3 }),
      });
      expect(created.status).toBe(201);
      expect(await created.json()).toEqual({ order: { id: "ord_1", item: "widget", quantity: 3 } });

      const invalid = await fetch(`${app.url}/api/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ item: "widget", quantity: 0 }),
      });
      expect(invalid.status).toBe(400);
      const malformed = await fetch(`${app.url}/api/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      expect(malformed.status).toBe(400);
    });

    it("refuses an event that fails its schema with 400 invalid_event", async () => {
      const { headers, body } = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: 7 } } });
      const answer = await fetch(`${app.url}/webhooks`, { method: "POST", headers, body: body as BodyInit });
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ error: { code: "invalid_event" } });
    });
  });

  describe("without WEBHOOK_SECRET", () => {
    it("warns and verifies with the documented development secret", async () => {
      const app = await startExample(server);
      try {
        // The warning goes to stderr, which may arrive after the URL on stdout.
        await expect.poll(app.output).toContain("WEBHOOK_SECRET is not set: using the public development secret");
        await smokeTest(app.url, { secret: devSecret, paths: [app.webhookPath], signedDelivery });
      } finally {
        await app.stop();
      }
    });
  });
}
