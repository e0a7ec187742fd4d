import type { ReceiverLogger } from "@hookline/core";
import { signedDelivery } from "@hookline/testing";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps test output to what matters; 409s and 503s are expected here. */
export const quietLogger: ReceiverLogger = { info() {}, warn() {}, error() {} };

/** One signed message, sent as many times as needed (a sender's retries carry the same id). */
export interface Message {
  id: string;
  headers: Record<string, string>;
  body: string;
}

/** `count` signed `order.created` messages with ids `${label}_0…`. */
export async function messages(secret: string, label: string, count: number): Promise<Message[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, n) => {
      const id = `${label}_${n}`;
      const { headers, body } = await signedDelivery({ secret, id, event: { type: "order.created", data: { n } } });
      return { id, headers, body: body as string };
    }),
  );
}

/** What one send got back: the status (0 when the connection failed) and the JSON body. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Sends until the delivery is acknowledged with 200, as a webhook sender does: 409 and 5xx are retried after
 * `waitMs` (not the Retry-After, to keep the test short), a connection failure at once, until `deadline`.
 * @param send the attempt number lets the caller alternate instances
 * @returns every answer, the 200 last
 */
export async function deliverUntilAcknowledged(
  send: (attempt: number) => Promise<Answer>,
  { deadline, waitMs = 10 }: { deadline: number; waitMs?: number },
): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let attempt = 0; ; attempt++) {
    const answer = await send(attempt);
    answers.push(answer);
    if (answer.status === 200) return answers;
    if (answer.status !== 0 && answer.status !== 409 && answer.status < 500) {
      throw new Error(`Delivery refused with ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
    if (Date.now() > deadline) throw new Error(`Not acknowledged in time; answers: ${JSON.stringify(answers)}`);
    if (answer.status !== 0) await sleep(waitMs); // a dead instance: on to the next one at once
  }
}

/** Counts answers by kind: `processed`, `duplicate`, or the status of a refusal. */
export function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status, body } of answers) {
    const kind = status === 200 ? (body.duplicate ? "duplicate" : "processed") : String(status);
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
