import { generateMessageId, type SecretInput, sign, type WebhookScheme } from "@hookline/core";
import type { Capture } from "./captures";
import { endToEnd } from "./http";
import { ID_HEADERS } from "./schemes";

const STANDARD_HEADERS = ["id", "timestamp", "signature"].flatMap((part) => [`webhook-${part}`, `svix-${part}`]);

/** Marks a request sent back to `listen`, so that the new capture links to the one it replays. */
export const REPLAY_HEADER = "x-hookline-replay-of";

/**
 * The headers to send a capture again with: as captured (minus per-hop headers), or re-signed over the same bytes
 * with a fresh timestamp, keeping the message id so that the receiver can still recognise a duplicate.
 */
export async function replayHeaders(
  capture: Capture,
  body: Uint8Array,
  resign?: { secret: SecretInput; scheme: WebhookScheme },
): Promise<[string, string][]> {
  const headers = endToEnd(capture.headers).filter(([name]) => name.toLowerCase() !== REPLAY_HEADER);
  if (!resign) return headers;
  const id = headers.find(([name]) => (ID_HEADERS as readonly string[]).includes(name.toLowerCase()))?.[1];
  const fresh = await sign({ ...resign, payload: body, id: id ?? generateMessageId() });
  const replaced = new Set(Object.keys(fresh));
  if (replaced.has("webhook-signature") || replaced.has("svix-signature")) {
    for (const name of STANDARD_HEADERS) replaced.add(name);
  }
  return [...headers.filter(([name]) => !replaced.has(name.toLowerCase())), ...Object.entries(fresh)];
}
