import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Receiver } from "@hookline/core";
import { type AdapterServer, runAdapterContract } from "@hookline/testing";
// Next's own Node plumbing (internal modules), as `next start` wraps a route: an App Router route gets a
// NextRequest over the request stream and its Response is piped back; a Pages API route goes through
// `apiResolver`, which reads the page's `config` and runs (or skips) Next's body parser.
import { apiResolver } from "next/dist/server/api-utils/node/api-resolver.js";
import { NodeNextRequest, NodeNextResponse } from "next/dist/server/base-http/node.js";
import { sendResponse } from "next/dist/server/send-response.js";
import {
  NextRequestAdapter,
  signalFromNodeResponse,
} from "next/dist/server/web/spec-extension/adapters/next-request.js";
import { describe, it } from "vitest";
import { pagesConfig, pagesWebhookHandler, webhookHandler } from "../src/index";

async function serve(
  listener: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>,
): Promise<AdapterServer> {
  const server = createServer((req, res) => {
    listener(req, res).catch((error: unknown) => res.writeHead(599).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/webhooks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

runAdapterContract(
  "next (App Router)",
  {
    start(receiver: Receiver) {
      // The route exports the handler for every method, so that the contract sees the receiver's own 405.
      const handler = webhookHandler(receiver);
      return serve(async (req, res) => {
        const request = new NodeNextRequest(req);
        const response = await handler(NextRequestAdapter.fromNodeNextRequest(request, signalFromNodeResponse(res)));
        await sendResponse(request, new NodeNextResponse(res), response);
      });
    },
  },
  { describe, it },
);

runAdapterContract(
  "next (Pages Router)",
  {
    start(receiver: Receiver) {
      const page = { default: pagesWebhookHandler(receiver), config: pagesConfig };
      const preview = { previewModeId: "", previewModeEncryptionKey: "", previewModeSigningKey: "", dev: false };
      return serve((req, res) => apiResolver(req, res, {}, page, preview, false));
    },
  },
  { describe, it },
);
