import { createReceiver, defineEvents } from "@hookline/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { allowedAnswer, answerName, type FuzzCase, fuzzCase, seeded } from "../src/fuzz";

// The adapters' contract sends the same cases over real HTTP (src/adapter-contract.ts); here they go
// straight into receive() and handle(), with a catalog, so that type lookups and validation are fuzzed too.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const events = defineEvents({ "order.created": z.object({ n: z.number(), note: z.string() }) });
const silent = { info() {}, warn() {}, error() {} };
const RUNS = 1_000;

function receiverUnderTest() {
  return createReceiver({ secret, events, logger: silent, maxBodyBytes: 64 * 1024 }).on("order.created", () => {});
}

const describeCase = (testCase: FuzzCase) =>
  `${testCase.method} ${testCase.label}, host ${JSON.stringify(testCase.host)}, expected ${testCase.allowed.join(" or ")}`;

describe("fuzzed requests get only the answers the table promises", () => {
  it(`receive(): ${RUNS} seeded cases, with Host and absolute-form targets`, async () => {
    const receiver = receiverUnderTest();
    const sent: { headers: Record<string, string>; body: Uint8Array }[] = [];
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const testCase = await fuzzCase(seeded(seed), secret, sent);
        const answer = await receiver.receive({
          method: testCase.method,
          headers: { ...testCase.headers, host: testCase.host ?? "hooks.example.com" },
          body: testCase.body,
          url: `${testCase.absolute ? "http://hooks.example.com" : ""}/webhooks${testCase.query}`,
          secure: false,
          remoteAddress: "192.0.2.1",
        });
        const name = answerName(answer.status, JSON.parse(answer.body));
        // A Host the receiver reads itself is always its own 400, never a framework's.
        const allowed = allowedAnswer(testCase, name) && name !== "400 (not a Hookline answer)";
        expect(allowed, `${describeCase(testCase)}, got ${name}`).toBe(true);
      }),
      { seed: 0x5eed, numRuns: RUNS },
    );
  });

  it(`handle(): ${RUNS / 2} seeded cases as Fetch Requests`, async () => {
    const receiver = receiverUnderTest();
    const sent: { headers: Record<string, string>; body: Uint8Array }[] = [];
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const testCase = await fuzzCase(seeded(seed), secret, sent);
        if (testCase.host !== undefined) return; // a Request's URL carries the host, and is always well-formed
        const request = new Request(`https://hooks.example.com/webhooks${testCase.query}`, {
          method: testCase.method,
          headers: testCase.headers,
          body: testCase.method === "GET" ? null : (testCase.body as BodyInit),
        });
        const response = await receiver.handle(request, { secure: true, remoteAddress: "192.0.2.1" });
        const name = answerName(response.status, await response.json());
        expect(allowedAnswer(testCase, name), `${describeCase(testCase)}, got ${name}`).toBe(true);
      }),
      { seed: 0x5eed + 1, numRuns: RUNS / 2 },
    );
  });
});
