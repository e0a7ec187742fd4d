/**
 * The smoke test every example shares: against a running example, each webhook route gets a signed event (200),
 * the same delivery again (200, `duplicate`) and a tampered copy (401). Throws on the first answer that differs,
 * naming the route, the step, and what came back.
 *
 * Each example's smoke test imports it by relative path and passes `signedDelivery` from
 * `@hookline/testing`, the example's own dependency (this file belongs to no package, so it cannot import
 * one).
 *
 * @example
 * import { signedDelivery } from "@hookline/testing";
 * import { smokeTest } from "../../smoke";
 * await smokeTest("http://127.0.0.1:3000", { secret, paths: ["/webhooks"], signedDelivery });
 */

/** The part of `signedDelivery` (from `@hookline/testing`) this runner uses. */
export type SignDelivery = (options: {
  secret: string;
  event: { type: string; data: unknown };
}) => Promise<{ headers: Record<string, string>; body: string | Uint8Array }>;

/** Options of {@link smokeTest}. */
export interface SmokeTestOptions {
  /** The secret the example verifies with. */
  secret: string;
  /** The webhook routes to exercise, relative to the base URL, such as `/api/webhooks`. */
  paths: readonly string[];
  /** `signedDelivery` from `@hookline/testing`. */
  signedDelivery: SignDelivery;
  /**
   * The event to send; it must be one the example handles, so that the duplicate is recognised as one.
   * @default { type: "invoice.paid", data: { id: "in_smoke", amountCents: 4200 } }
   */
  event?: { type: string; data: unknown };
  /**
   * How long each request may take, in milliseconds.
   * @default 10_000
   */
  timeoutMs?: number;
}

/** One answer the smoke test checked. */
export interface SmokeAnswer {
  path: string;
  step: "signed" | "duplicate" | "tampered";
  status: number;
  body: string;
}

type Answer = Record<string, unknown>;
const expectations = {
  signed: { status: 200, shape: "{ received: true }", matches: (a: Answer) => a.received === true && !a.duplicate },
  duplicate: { status: 200, shape: "{ duplicate: true }", matches: (a: Answer) => a.duplicate === true },
  tampered: {
    status: 401,
    shape: 'error code "no_matching_signature"',
    matches: (a: Answer) => (a.error as { code?: unknown } | undefined)?.code === "no_matching_signature",
  },
} as const;

/** Sends the three deliveries to every path and resolves with the answers, or throws on the first wrong one. */
export async function smokeTest(baseUrl: string, options: SmokeTestOptions): Promise<SmokeAnswer[]> {
  const event = options.event ?? { type: "invoice.paid", data: { id: "in_smoke", amountCents: 4200 } };
  const answers: SmokeAnswer[] = [];
  for (const path of options.paths) {
    const url = new URL(path, baseUrl).href;
    const { headers, body } = await options.signedDelivery({ secret: options.secret, event });
    // Same headers, one space added to the signed body: still the same JSON, but the signature no longer matches.
    const tampered = `${typeof body === "string" ? body : new TextDecoder().decode(body)} `;
    const sends = { signed: body, duplicate: body, tampered } as const;
    for (const step of ["signed", "duplicate", "tampered"] as const) {
      let answer: SmokeAnswer;
      try {
        const response = await fetch(url, {
          method: "POST",
          headers,
          body: sends[step] as BodyInit,
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        answer = { path, step, status: response.status, body: await response.text() };
      } catch (error) {
        throw new Error(`POST ${url} (${step} delivery) failed: ${(error as Error).message}`, { cause: error });
      }
      const expected = expectations[step];
      let parsed: Answer = {};
      try {
        parsed = JSON.parse(answer.body) as Answer;
      } catch {}
      if (answer.status !== expected.status || !expected.matches(parsed)) {
        throw new Error(
          `POST ${url} (${step} delivery): expected ${expected.status} with ${expected.shape}, got ${answer.status} ${answer.body}`,
        );
      }
      answers.push(answer);
    }
  }
  return answers;
}
