import { setTimeout as sleep } from "node:timers/promises";
import type { ReceiverLogger } from "@hookline/core";
import { signedDelivery } from "@hookline/testing";

/** One signed message, deliverable any number of times (as a sender's retries are). */
export interface Message {
  id: string;
  headers: Record<string, string>;
  body: string;
  /** A fresh request for `receiver.handle`. */
  request(): Request;
}

export async function signedMessage(
  secret: string,
  { id = `msg_${crypto.randomUUID()}`, type = "invoice.paid" }: { id?: string; type?: string } = {},
): Promise<Message> {
  const { headers, body } = await signedDelivery({ secret, id, event: { type, data: { id } } });
  const text = body as string;
  return {
    id,
    headers,
    body: text,
    request: () => new Request("http://127.0.0.1/webhooks", { method: "POST", headers, body: text }),
  };
}

/** What a sender learns from one attempt; `status` 0 when the connection failed. */
export interface Answer {
  status: number;
  body: string;
  retryAfter: string | null;
}

export async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, body: await response.text(), retryAfter: response.headers.get("retry-after") };
}

/**
 * Delivers as a sender does: until acknowledged (2xx), retrying after a short wait on 409, 503, 5xx or a failed
 * connection. `attempt(n)` makes attempt n (0-based), so callers can alternate instances. Throws past `attempts`.
 */
export async function deliverUntilAcknowledged(
  attempt: (n: number) => Promise<Answer>,
  { attempts = 100, waitMs = 25 }: { attempts?: number; waitMs?: number } = {},
): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let n = 0; n < attempts; n++) {
    const answer = await attempt(n).catch((error: unknown) => ({ status: 0, body: String(error), retryAfter: null }));
    answers.push(answer);
    if (answer.status >= 200 && answer.status < 300) return answers;
    if (answer.status !== 0 && answer.status !== 409 && answer.status < 500) {
      throw new Error(`Delivery refused for good: ${answer.status} ${answer.body}`);
    }
    await sleep(waitMs);
  }
  throw new Error(
    `Not acknowledged after ${attempts} attempts: ${answers
      .slice(-3)
      .map((answer) => `${answer.status} ${answer.body}`)
      .join(" | ")}`,
  );
}

/** Runs `tasks` with at most `concurrency` at a time. */
export async function inParallel<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/** A logger that keeps warnings and errors, to assert on them. */
export function recordingLogger(): ReceiverLogger & { messages: string[] } {
  const messages: string[] = [];
  return {
    messages,
    info() {},
    warn: (_fields, message) => messages.push(message),
    error: (_fields, message) => messages.push(message),
  };
}
