import type { WebhookEvent } from "./events";
import { errorFields } from "./log";
import type { DeadLetterStore } from "./store";
import type { ReceiverLogger } from "./types";

/**
 * Records a handler failure durably if there is a dead-letter store; resolves whether the event is safe
 * (dead-lettered). `attempts` is how many runs failed (an inbox's whole schedule). Never rejects: a store failure is logged and reported as `false`.
 */
export async function deadLetter(
  deadLetters: DeadLetterStore | undefined,
  logger: ReceiverLogger,
  event: WebhookEvent,
  payload: string,
  error: unknown,
  attempts = 1,
): Promise<boolean> {
  if (!deadLetters) return false;
  const now = Date.now();
  try {
    await deadLetters.put({
      id: event.id,
      type: event.type,
      ...(event.timestamp === undefined ? {} : { timestamp: event.timestamp }),
      payload,
      error: errorFields(error),
      attempts,
      firstFailedAt: now,
      lastFailedAt: now,
    });
    return true;
  } catch (storeError) {
    logger.error({ id: event.id, type: event.type, error: errorFields(storeError) }, "Could not store the dead letter");
    return false;
  }
}
