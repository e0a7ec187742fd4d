/**
 * The one bridge between Node's `http` module and a receiver, shared by the Express and Next.js Pages adapters
 * and by plain `http.createServer`. The body is streamed into the receiver, which stops reading at
 * `maxBodyBytes` (413) and refuses an over-long `Content-Length` before reading at all.
 *
 * @example
 * import { createServer } from "node:http";
 * import { nodeHandler } from "@hookline/core/node";
 * createServer(nodeHandler(receiver)).listen(3000);
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DeliveryInput, DeliveryResponse, Receiver } from "@hookline/core";

/** A Node request as the receiver's input; `body` overrides the stream (a raw body a framework kept). */
export function toDeliveryInput(request: IncomingMessage, body?: Uint8Array | string): DeliveryInput {
  const encrypted = (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  const input: DeliveryInput = {
    method: request.method ?? "GET",
    headers: request.headers,
    body: body ?? request,
    url: `${encrypted ? "https" : "http"}://${request.headers.host ?? "localhost"}${request.url ?? "/"}`,
  };
  if (request.socket?.remoteAddress) input.remoteAddress = request.socket.remoteAddress;
  return input;
}

/**
 * Writes the receiver's answer. When the body was cut off at the limit, the connection is closed after the
 * answer so that the unread rest of the upload is never buffered.
 */
export function sendDeliveryResponse(
  request: IncomingMessage,
  response: ServerResponse,
  answer: DeliveryResponse,
): void {
  if (answer.headers.connection === "close" && !request.complete) {
    response.once("finish", () => request.destroy());
  }
  response.writeHead(answer.status, answer.headers).end(answer.body);
}

/** A `(request, response)` listener for `http.createServer` (or any Node framework's raw handler). */
export function nodeHandler(receiver: Pick<Receiver, "receive">) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    sendDeliveryResponse(request, response, await receiver.receive(toDeliveryInput(request)));
  };
}
