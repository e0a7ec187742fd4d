import { utf8Encode } from "../encoding";
import { HooklineError } from "../errors";
import type { MaybePromise } from "../maybe";

/**
 * A request body in any form an adapter holds it: bytes, text, a web stream or a Node stream; or the
 * `HooklineError` that says why it cannot be had (a parser consumed it, the framework cut it off at its limit),
 * which the receiver answers with that error's code.
 */
export type BodyInput =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | HooklineError
  | null
  | undefined;

/**
 * The body's bytes, or `too_large` as soon as more than `maxBytes` arrive (the rest is never buffered). Bytes and
 * text in hand are answered at once (no promise); a stream is read.
 */
export function readBody(body: BodyInput, maxBytes: number): MaybePromise<Uint8Array | "too_large"> {
  if (body === null || body === undefined) return new Uint8Array(0);
  if (body instanceof HooklineError) throw body;
  if (typeof body === "string") body = utf8Encode(body);
  if (body instanceof Uint8Array) return body.length > maxBytes ? "too_large" : body;
  return readStream(body, maxBytes);
}

async function readStream(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | "too_large"> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (typeof (body as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return "too_large";
      }
      chunks.push(value);
    }
  } else {
    // A Node stream: stop pulling at the limit but do not destroy it, so the 413 can still be written on its
    // socket (the adapter closes the connection after answering).
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    for (;;) {
      const { done, value } = await iterator.next();
      if (done) break;
      size += value.length;
      if (size > maxBytes) return "too_large";
      chunks.push(value);
    }
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
