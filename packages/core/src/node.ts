/**
 * The one bridge between Node's `http` module and a receiver, shared by the Express, Fastify and Next.js Pages
 * adapters and by plain `http.createServer`. The body is streamed into the receiver, which stops reading at
 * `maxBodyBytes` (413) and refuses an over-long `Content-Length` before reading at all. A raw body that a body
 * parser kept (`req.rawBody`) is used as is; a stream that a parser already consumed answers 500
 * `raw_body_unavailable` at once, naming the fixes, instead of verifying an empty or re-serialized body.
 *
 * @example
 * import { createServer } from "node:http";
 * import { nodeHandler } from "@hookline/core/node";
 * createServer(nodeHandler(receiver)).listen(3000);
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type DeliveryInput, type DeliveryResponse, HooklineError, type Receiver } from "@hookline/core";

/** What body parsers leave on a Node request. */
interface ParsedRequest extends IncomingMessage {
  /** The raw bytes, by the `verify` convention: `express.json({ verify: (req, res, buf) => { req.rawBody = buf } })`. */
  rawBody?: unknown;
  /** A parser's result: a Buffer from `express.raw()` is the raw body itself. */
  body?: unknown;
}

const PARSED_BEFORE = new HooklineError(
  "raw_body_unavailable",
  "A body parser (such as express.json()) read the request before Hookline could verify its raw bytes, and a " +
    "parsed body cannot be verified. Mount the webhook handler before the body parser, or with none on its route; " +
    "or keep the raw bytes: express.json({ verify: (req, res, buf) => { req.rawBody = buf } }).",
);

/** The raw bytes a body parser kept: `req.rawBody`, or `req.body` when it is a Buffer (`express.raw()`). */
function keptRawBody(request: ParsedRequest): Uint8Array | string | undefined {
  const { rawBody, body } = request;
  if (rawBody instanceof Uint8Array || typeof rawBody === "string") return rawBody;
  return body instanceof Uint8Array ? body : undefined;
}

/**
 * True once anything took bytes from the stream (or read it to its end): those bytes are gone. Not `complete`,
 * which only says the whole message arrived, nor a `body` alone, which body-parser 1 sets to `{}` even for a
 * content type it leaves unread.
 */
function streamConsumed(request: IncomingMessage): boolean {
  return request.readableDidRead || request.readableEnded;
}

/**
 * A Node request as the receiver's input. `body` overrides the stream: a raw body the framework kept, or the
 * `HooklineError` why there is none. Without it, a raw body a parser kept is used, and a stream a parser consumed
 * answers 500 `raw_body_unavailable`.
 */
export function toDeliveryInput(request: IncomingMessage, body?: Uint8Array | string | HooklineError): DeliveryInput {
  const input: DeliveryInput = {
    method: request.method ?? "GET",
    headers: request.headers,
    body: body ?? keptRawBody(request) ?? (streamConsumed(request) ? PARSED_BEFORE : request),
    // The socket, not the client's target (which may be absolute-form `https://…` over plain HTTP), says TLS.
    secure: (request.socket as { encrypted?: boolean } | null)?.encrypted === true,
  };
  if (request.url !== undefined) input.url = request.url;
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
