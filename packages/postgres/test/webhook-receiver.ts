import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createReceiver, memoryStore } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";

/** A Hookline receiver on 127.0.0.1:0 that records the message ids its handler processed, and each request's. */
export interface WebhookReceiver {
  url: string;
  /** Message ids, once per handler run. */
  processed: string[];
  /** The `webhook-id` of every request that reached it (duplicates included). */
  requests: string[];
  /** Resolves once `count` distinct messages were processed, or rejects after `timeoutMs`. */
  processedAtLeast(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function webhookReceiver(secret: string): Promise<WebhookReceiver> {
  const processed: string[] = [];
  const requests: string[] = [];
  const receiver = createReceiver({ secret, store: memoryStore() }).onAny((event) => {
    processed.push(event.id);
  });
  const handle = nodeHandler(receiver);
  const server = createServer((request, response) => {
    requests.push(String(request.headers["webhook-id"]));
    void handle(request, response);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    processed,
    requests,
    async processedAtLeast(count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (new Set(processed).size < count) {
        if (Date.now() > deadline) {
          throw new Error(`${new Set(processed).size} of ${count} messages processed after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
