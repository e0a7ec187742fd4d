import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { WebhookScheme } from "@hookline/core";
import { type Capture, CaptureStore, eventTypeOf, type Verdict } from "./captures";
import { curlCommand } from "./curl";
import { verdictLine, verdictOf } from "./diagnosis";
import { UnreachableError, UsageError } from "./exit";
import { endToEnd, post } from "./http";
import { REPLAY_HEADER, replayHeaders } from "./replay";

/** Options of {@link listen}. */
export interface ListenOptions {
  /** @default 4400 */
  port: number;
  /** @default "127.0.0.1" */
  host: string;
  /** Verify each capture with these (any may match); none: captures are unverified. */
  secrets: string[];
  scheme: WebhookScheme;
  /** Seconds of tolerance for the timestamp check. @default 300 */
  tolerance: number;
  /** The app's webhook URL: each capture is sent there unchanged, and the app's answer goes back to the sender. */
  forwardTo?: string;
  store: CaptureStore;
  /** @default 1 MiB */
  maxBodyBytes: number;
  /** Where one line per capture goes. @default console.log */
  log?: (line: string) => void;
}

const INSPECTOR_FILES: Record<string, string> = {
  "": "index.html",
  "index.html": "index.html",
  "inspector.js": "inspector.js",
  "inspector.css": "inspector.css",
};
const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
const INSPECTOR_DIR = new URL("../inspector/", import.meta.url);

/** What the inspector's list shows of a capture. */
function summary(capture: Capture) {
  return {
    id: capture.id,
    receivedAt: capture.receivedAt,
    method: capture.method,
    path: capture.path,
    size: capture.size,
    eventType: capture.eventType ?? null,
    verdict: { status: capture.verdict.status, code: capture.verdict.code ?? null },
    answerStatus: capture.answerStatus ?? null,
    forward: capture.forward
      ? {
          status: capture.forward.status ?? null,
          error: capture.forward.error ?? null,
          durationMs: capture.forward.durationMs ?? null,
        }
      : null,
    replayOf: capture.replayOf ?? null,
  };
}

function json(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** Reads a request's body, keeping at most `limit` bytes; `size` counts every byte that came. */
async function readRequest(request: IncomingMessage, limit: number): Promise<{ body: Uint8Array; size: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (kept < limit) {
      const part = chunk.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.length;
    }
    // Past the limit, stop reading: the 413 goes out and the connection closes.
    if (size > limit) break;
  }
  return { body: new Uint8Array(Buffer.concat(chunks)), size };
}

function headerPairs(request: IncomingMessage): [string, string][] {
  const pairs: [string, string][] = [];
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    pairs.push([request.rawHeaders[index]!, request.rawHeaders[index + 1]!]);
  }
  return pairs;
}

/**
 * A local webhook endpoint: captures every request under the store's folder, verifies it with the same diagnosis
 * as `hookline verify`, forwards it unchanged when asked, and serves the inspector page at `/_hookline/` with live
 * updates over server-sent events.
 */
export async function listen(options: ListenOptions): Promise<{ url: string; close(): Promise<void> }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const streams = new Set<ServerResponse>();
  let ownUrl = "";

  const broadcast = (capture: Capture) => {
    const message = `event: capture\ndata: ${JSON.stringify(summary(capture))}\n\n`;
    for (const stream of streams) stream.write(message);
  };

  async function verdictFor(body: Uint8Array, headers: [string, string][], receivedAt: Date): Promise<Verdict> {
    if (options.secrets.length === 0) return { status: "unverified", message: "no --secret given", hints: [] };
    const record: Record<string, string> = {};
    for (const [name, value] of headers) {
      const key = name.toLowerCase();
      record[key] = record[key] === undefined ? value : `${record[key]}, ${value}`;
    }
    return verdictOf({
      secret: options.secrets,
      scheme: options.scheme,
      payload: body,
      headers: record,
      tolerance: options.tolerance,
      now: receivedAt,
    });
  }

  async function capture(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const receivedAt = new Date();
    const { body, size } = await readRequest(request, options.maxBodyBytes);
    const truncated = size > options.maxBodyBytes;
    const all = headerPairs(request);
    const replayOf = all.find(([name]) => name.toLowerCase() === REPLAY_HEADER)?.[1];
    const headers = all.filter(([name]) => name.toLowerCase() !== REPLAY_HEADER);
    const item: Capture = {
      id: CaptureStore.newId(),
      receivedAt: receivedAt.toISOString(),
      method: request.method ?? "GET",
      path: request.url ?? "/",
      url: new URL(request.url ?? "/", ownUrl).href,
      headers,
      size,
      truncated,
      verdict: truncated
        ? { status: "invalid", message: `the body is over ${options.maxBodyBytes} bytes (--max-body-bytes)`, hints: [] }
        : await verdictFor(body, headers, receivedAt),
    };
    const eventType = eventTypeOf(body, headers);
    if (eventType !== undefined) item.eventType = eventType;
    if (replayOf !== undefined && /^[0-9a-z]+$/.test(replayOf)) item.replayOf = replayOf;
    if (options.forwardTo && !truncated) item.forward = { url: options.forwardTo };
    await options.store.add(item, body);
    broadcast(item);

    let status: number;
    let answer: { contentType: string; body: string };
    if (truncated) {
      status = 413;
      answer = {
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "payload_too_large", message: item.verdict.message } }),
      };
      response.setHeader("connection", "close");
    } else if (options.forwardTo) {
      try {
        const forwarded = await post(options.forwardTo, endToEnd(headers), body, { method: item.method });
        item.forward = { url: options.forwardTo, ...forwarded };
        status = forwarded.status;
        const contentType = forwarded.headers.find(([name]) => name === "content-type")?.[1] ?? "text/plain";
        answer = { contentType, body: forwarded.body };
      } catch (error) {
        if (!(error instanceof UnreachableError)) throw error;
        item.forward = { url: options.forwardTo, error: error.message };
        status = 502;
        answer = {
          contentType: "application/json",
          body: JSON.stringify({ error: { code: "forward_failed", message: error.message } }),
        };
      }
    } else if (item.verdict.status === "invalid") {
      status = 401;
      answer = {
        contentType: "application/json",
        body: JSON.stringify({ error: { code: item.verdict.code, message: item.verdict.message } }),
      };
    } else {
      status = 200;
      answer = { contentType: "application/json", body: JSON.stringify({ received: true }) };
    }
    item.answerStatus = status;
    await options.store.save(item);
    broadcast(item);
    response.writeHead(status, {
      "content-type": answer.contentType,
      "content-length": Buffer.byteLength(answer.body),
    });
    response.end(answer.body);

    const forward = item.forward
      ? ` → ${item.forward.error ?? `${item.forward.status} in ${item.forward.durationMs} ms`}`
      : "";
    log(`${item.id}  ${item.method} ${item.path}  ${size} B  ${verdictLine(item.verdict)}${forward}`);
    for (const hint of item.verdict.hints) log(`    → ${hint}`);
  }

  /** Sends a capture back through this endpoint (so it is captured, verified and forwarded again). */
  async function replay(id: string, resign: boolean): Promise<{ status: number }> {
    const { capture: original, body } = await options.store.get(id);
    const headers = await replayHeaders(
      original,
      body,
      resign ? { secret: options.secrets, scheme: options.scheme } : undefined,
    );
    headers.push([REPLAY_HEADER, original.id]);
    const answer = await post(new URL(original.path, ownUrl).href, headers, body, { method: original.method });
    return { status: answer.status };
  }

  async function inspector(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    // Only pages served from this machine may drive the inspector (DNS rebinding would bring another Host).
    const host = (request.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    if (!["127.0.0.1", "localhost", "::1", options.host].includes(host)) {
      return json(response, 403, {
        error: { code: "forbidden_host", message: `the inspector answers on loopback only, not ${host}` },
      });
    }
    const rest = url.pathname.slice("/_hookline/".length);
    const file = INSPECTOR_FILES[rest];
    if (request.method === "GET" && file !== undefined) {
      const content = await readFile(new URL(file, INSPECTOR_DIR));
      response.writeHead(200, {
        "content-type": CONTENT_TYPES[file.split(".").pop()!]!,
        "cache-control": "no-cache",
        "content-security-policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'",
      });
      return void response.end(content);
    }
    if (request.method === "GET" && rest === "api/events") {
      response.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      response.write("retry: 1000\n\n");
      streams.add(response);
      request.on("close", () => streams.delete(response));
      return;
    }
    if (request.method === "GET" && rest === "api/captures") {
      const ids = await options.store.list();
      const captures = [];
      for (const id of ids) captures.push(summary((await options.store.get(id)).capture));
      return json(response, 200, {
        captures,
        secret: options.secrets.length > 0,
        forwardTo: options.forwardTo ?? null,
      });
    }
    const match = /^api\/captures\/([0-9a-z]+)(\/replay)?$/.exec(rest);
    if (match && request.method === "GET" && !match[2]) {
      const { capture: found, body } = await options.store.get(match[1]!);
      const text = Buffer.from(body).toString("utf8");
      const binary = !Buffer.from(text, "utf8").equals(Buffer.from(body));
      return json(response, 200, {
        ...found,
        body: binary ? Buffer.from(body).toString("base64") : text,
        bodyEncoding: binary ? "base64" : "utf8",
        curl: curlCommand(found.url, endToEnd(found.headers), { file: options.store.bodyPath(found.id) }),
      });
    }
    if (match?.[2] && request.method === "POST") {
      // A JSON body forces a CORS preflight, which this server never grants: other sites' pages cannot replay.
      if (!request.headers["content-type"]?.startsWith("application/json")) {
        return json(response, 415, { error: { code: "unsupported_media_type", message: "send application/json" } });
      }
      const { body } = await readRequest(request, 1024);
      let resign: unknown;
      try {
        ({ resign } = JSON.parse(Buffer.from(body).toString("utf8") || "{}") as { resign?: unknown });
      } catch {
        return json(response, 400, { error: { code: "invalid_json", message: 'send { "resign": true | false }' } });
      }
      if (resign && options.secrets.length === 0) {
        return json(response, 400, {
          error: { code: "no_secret", message: "re-signing needs hookline listen --secret" },
        });
      }
      return json(response, 200, await replay(match[1]!, resign === true));
    }
    json(response, 404, {
      error: { code: "not_found", message: `no inspector route ${request.method} ${url.pathname}` },
    });
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname.startsWith("/_hookline/")) return inspector(request, response, url);
    if (url.pathname === "/_hookline") return void response.writeHead(308, { location: "/_hookline/" }).end();
    // A browser's own requests are not webhooks: the page for a person, no icon.
    if (request.method === "GET" && url.pathname === "/favicon.ico") return void response.writeHead(204).end();
    if (request.method === "GET" && url.pathname === "/" && request.headers.accept?.includes("text/html")) {
      return void response.writeHead(302, { location: "/_hookline/" }).end();
    }
    return capture(request, response);
  }

  const server = createServer((request, response) => {
    const handled = route(request, response);
    handled.catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!response.headersSent)
        json(response, error instanceof Error && error.name === "UsageError" ? 404 : 500, {
          error: { code: "internal", message },
        });
      else response.end();
      if (!(error instanceof Error && error.name === "UsageError")) log(`error: ${message}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE" || error.code === "EADDRNOTAVAIL"
          ? new UsageError(
              `cannot listen on ${options.host}:${options.port} (${error.code}): pick another --port or --host`,
            )
          : error,
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  ownUrl = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  const heartbeat = setInterval(() => {
    for (const stream of streams) stream.write(": keep-alive\n\n");
  }, 15_000).unref();

  return {
    url: ownUrl,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(heartbeat);
        for (const stream of streams) stream.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
