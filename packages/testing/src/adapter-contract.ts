import {
  createReceiver,
  type HandlerContext,
  memoryDeadLetters,
  type Receiver,
  type ReceiverOptions,
  type WebhookEvent,
} from "@hookline/core";
import { allowedAnswer, answerName, type FuzzCase, fuzzCase, seeded } from "./fuzz";
import { type SignedDelivery, signedDelivery } from "./kit";
import type { ContractRunner } from "./store-contract";

/** A framework serving a receiver, as {@link AdapterHarness.start} returns it. */
export interface AdapterServer {
  /** The webhook route's full URL, on 127.0.0.1 (such as `http://127.0.0.1:54321/webhooks`). */
  url: string;
  /** Stops the server and frees its port. */
  close(): Promise<void> | void;
}

/** How the contract starts the framework under test. */
export interface AdapterHarness {
  /** Starts the real framework on port 0 of 127.0.0.1 with the adapter serving `receiver` on one route. */
  start(receiver: Receiver): Promise<AdapterServer>;
}

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const LIMIT = 64 * 1024;
const UPLOAD = 8 * 1024 * 1024;
/** The longest any answer may take; a hang fails the test rather than the run. */
const ANSWER_MS = 5_000;
/** How soon a 413 must come, and the connection close after it. */
const QUICK_MS = 2_000;
const TEST_MS = 15_000;
/** Fuzzed requests per adapter: enough to cover every shape several times, few enough for a second or two. */
const FUZZ_RUNS = 300;
const FUZZ_SEED = 0x5eed_2026;
const quiet = { info() {}, warn() {}, error() {} };

/** Signed as is: a re-serialized body (spacing, `\u00e9`, `1.50`, `1e2`, the repeated key, CRLF) fails it. */
const EXACT_PAYLOAD =
  '{ "type" : "order.created",\r\n' +
  '  "data" : { "id": "ord_1", "note": "Zoë \\u00e9 漢字 🎉", "total": 1.50, "count": 1e2, "tag": "a", "tag": "b" } }\r\n';
const EXACT_DATA = { id: "ord_1", note: "Zoë é 漢字 🎉", total: 1.5, count: 100, tag: "b" };

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code?: string; message?: string }; [key: string]: unknown } | undefined;
}

interface UploadAnswer {
  status: number;
  body: Answer["body"];
  /** Milliseconds from the first byte sent to the answer. */
  ms: number;
  /** Bytes of body written when the answer came. */
  written: number;
  /** Whether the server closed the connection soon after answering. */
  closed: boolean;
}

async function post(url: string, { headers, body }: SignedDelivery): Promise<Answer> {
  const init = { method: "POST", headers, body: body as BodyInit, signal: AbortSignal.timeout(ANSWER_MS) };
  return answerOf(await fetch(url, init));
}

/** The answer's JSON, or its text when it is not JSON (a framework's own error page). */
function bodyOf(text: string): Answer["body"] {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return { text };
  }
}

async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, headers: response.headers, body: bodyOf(await response.text()) };
}

/**
 * A POST over node:http that never ends its body: 64 KiB chunks, chunked or under a declared `Content-Length`,
 * until the answer comes or `total` bytes are written. A server that waits for the whole body never answers.
 */
async function upload(url: string, headers: Record<string, string>, total: number): Promise<UploadAnswer> {
  const { Agent, request } = await import("node:http");
  // Keep-alive, so that a closed connection is the server's decision, not the client's `Connection: close`.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const started = performance.now();
  let written = 0;
  let answered = false;
  try {
    return await new Promise<UploadAnswer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer within ${ANSWER_MS} ms (${written} bytes written)`)),
        ANSWER_MS,
      );
      const outgoing = request(url, { method: "POST", headers, agent });
      outgoing.on("error", (error) => {
        if (!answered) reject(new Error(`the connection failed before any answer: ${error.message}`));
      });
      outgoing.on("response", (incoming) => {
        answered = true;
        const ms = performance.now() - started;
        const socket = outgoing.socket;
        const closing = new Promise<boolean>((done) => {
          if (!socket || socket.destroyed) return done(true);
          const wait = setTimeout(() => done(false), QUICK_MS);
          const closed = () => {
            clearTimeout(wait);
            done(true);
          };
          socket.once("end", closed).once("close", closed);
        });
        const chunks: Uint8Array[] = [];
        incoming.on("data", (data: Uint8Array) => chunks.push(data));
        incoming.on("error", () => {});
        incoming.on("close", async () => {
          clearTimeout(timer);
          const body = bodyOf(Buffer.concat(chunks).toString("utf8"));
          resolve({ status: incoming.statusCode ?? 0, body, ms, written, closed: await closing });
        });
      });
      outgoing.flushHeaders();
      const pump = () => {
        while (!answered && written < total && !outgoing.destroyed) {
          written += chunk.length;
          if (!outgoing.write(chunk)) return void outgoing.once("drain", pump);
        }
      };
      pump();
    });
  } finally {
    agent.destroy();
  }
}

/** Sends a fuzzed case over node:http, which sends what Fetch would refuse: any Host, an absolute-form target. */
async function sendCase(url: string, testCase: FuzzCase): Promise<Answer> {
  const { request } = await import("node:http");
  const target = new URL(url);
  const path = `${testCase.absolute ? target.origin : ""}${target.pathname}${testCase.query}`;
  const headers = { ...testCase.headers, host: testCase.host ?? target.host, connection: "close" };
  return new Promise<Answer>((resolve, reject) => {
    const outgoing = request(url, { method: testCase.method, path, headers, setHost: false }, (incoming) => {
      const chunks: Uint8Array[] = [];
      incoming.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () => {
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) answerHeaders.set(name, String(value));
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: incoming.statusCode ?? 0, headers: answerHeaders, body: bodyOf(text) });
      });
    });
    outgoing.setTimeout(ANSWER_MS, () => outgoing.destroy(new Error(`no answer within ${ANSWER_MS} ms`)));
    outgoing.on("error", reject);
    outgoing.end(testCase.method === "GET" || testCase.method === "DELETE" ? undefined : testCase.body);
  });
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Adapter contract violated: ${message}`);
}

function checkError(answer: Answer | UploadAnswer, status: number, code: string) {
  check(
    answer.status === status && answer.body?.error?.code === code && typeof answer.body.error.message === "string",
    `expected ${status} { error: { code: "${code}", message } }, got ${answer.status} ${JSON.stringify(answer.body)}`,
  );
}

interface Seen {
  event: WebhookEvent;
  context: HandlerContext;
}

/**
 * Checks that a framework adapter hands the receiver the exact raw bytes and sends its answers back unchanged,
 * on the real framework over real HTTP: exotic but valid JSON verifies (whatever the content type says, if
 * anything), a redelivery runs the handler once, bad and stale signatures get 401, an over-long `Content-Length`
 * gets 413 before the body is read, a chunked 8 MiB upload gets 413 at the 64 KiB limit without waiting for the
 * rest (and the connection is closed), other methods get 405, and a failing handler gets 500, or 200 with a
 * dead-letter store; and 300 seeded malformed requests (bad Host, absolute-form targets, odd content types, bad
 * or missing signatures, bodies that are not events) each get an answer the README's table promises for it, never
 * a 5xx. Node only (it uses node:http for the uploads); a few seconds per framework.
 *
 * @param harness starts the framework with the adapter on a route; called once per test.
 * @example
 * import { describe, it } from "vitest";
 * runAdapterContract("express", {
 *   async start(receiver) {
 *     const app = express().all("/webhooks", webhookHandler(receiver));
 *     const server = app.listen(0, "127.0.0.1");
 *     await once(server, "listening");
 *     const { port } = server.address() as AddressInfo;
 *     return { url: `http://127.0.0.1:${port}/webhooks`, close: () => new Promise((done) => server.close(done)) };
 *   },
 * }, { describe, it });
 */
export function runAdapterContract(name: string, harness: AdapterHarness, { describe, it }: ContractRunner): void {
  async function serve(
    options: Partial<ReceiverOptions> & { fail?: boolean },
    test: (url: string, seen: Seen[]) => Promise<void>,
  ): Promise<void> {
    const seen: Seen[] = [];
    const { fail, ...receiverOptions } = options;
    const receiver = createReceiver({ secret: SECRET, logger: quiet, maxBodyBytes: LIMIT, ...receiverOptions });
    receiver.on("order.created", (event, context) => {
      seen.push({ event, context });
      if (fail) throw new Error("the handler failed");
    });
    const server = await harness.start(receiver);
    try {
      await test(server.url, seen);
    } finally {
      await server.close();
    }
  }

  const order = () => signedDelivery({ secret: SECRET, event: { type: "order.created", data: { id: "ord_1" } } });

  describe(`Adapter contract: ${name}`, () => {
    it(
      "verifies the exact bytes sent and hands the handler their data",
      () =>
        serve({}, async (url, seen) => {
          const { headers, body } = await signedDelivery({
            secret: SECRET,
            id: "msg_exact",
            payload: EXACT_PAYLOAD,
            headers: { "content-type": "application/json" },
          });
          const answer = await post(url, { headers, body });
          check(
            answer.status === 200,
            `a valid delivery must get 200, got ${answer.status} ${JSON.stringify(answer.body)}`,
          );
          check(seen.length === 1, `the handler must run once, ran ${seen.length} times`);
          const [{ event, context }] = seen as [Seen];
          check(
            context.payload === EXACT_PAYLOAD,
            `the handler must see the bytes sent, got ${JSON.stringify(context.payload)}`,
          );
          check(
            JSON.stringify(event.data) === JSON.stringify(EXACT_DATA),
            `the handler must get the parsed data, got ${JSON.stringify(event.data)}`,
          );
        }),
      TEST_MS,
    );

    it(
      "verifies a body sent as text/plain or with no content type",
      () =>
        serve({}, async (url, seen) => {
          for (const contentType of ["text/plain; charset=utf-8", undefined]) {
            const { headers, body } = await order();
            if (contentType) headers["content-type"] = contentType;
            else delete headers["content-type"];
            const answer = await post(url, { headers, body: new TextEncoder().encode(body as string) });
            check(answer.status === 200, `content type ${contentType ?? "(none)"}: expected 200, got ${answer.status}`);
          }
          check(seen.length === 2, `the handler must run for both, ran ${seen.length} times`);
        }),
      TEST_MS,
    );

    it(
      "runs the handler once for a redelivered message",
      () =>
        serve({}, async (url, seen) => {
          const delivery = await order();
          const first = await post(url, delivery);
          const second = await post(url, delivery);
          check(
            first.status === 200 && second.status === 200,
            `both must get 200, got ${first.status}, ${second.status}`,
          );
          check(
            second.body?.duplicate === true,
            `the redelivery must be a duplicate, got ${JSON.stringify(second.body)}`,
          );
          check(seen.length === 1, `the handler must run once, ran ${seen.length} times`);
        }),
      TEST_MS,
    );

    it(
      "answers 401 to a bad signature and to a stale timestamp, handler not run",
      () =>
        serve({}, async (url, seen) => {
          const forged = await signedDelivery({
            secret: "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldA==",
            event: { type: "order.created", data: {} },
          });
          checkError(await post(url, forged), 401, "no_matching_signature");
          const stale = await signedDelivery({
            secret: SECRET,
            timestamp: new Date(Date.now() - 3_600_000),
            event: { type: "order.created", data: {} },
          });
          checkError(await post(url, stale), 401, "timestamp_too_old");
          check(seen.length === 0, "no handler may run for a refused delivery");
        }),
      TEST_MS,
    );

    it(
      "answers 413 to an over-long Content-Length before reading the body",
      () =>
        serve({}, async (url) => {
          const { headers } = await order();
          const answer = await upload(url, { ...headers, "content-length": String(UPLOAD) }, 0);
          checkError(answer, 413, "payload_too_large");
          check(answer.ms < QUICK_MS, `the 413 must come quickly, took ${Math.round(answer.ms)} ms`);
          check(answer.closed, "the server must close the connection after a 413");
        }),
      TEST_MS,
    );

    it(
      "answers 413 to a chunked 8 MiB upload at the limit, without waiting for the rest, and closes",
      () =>
        serve({}, async (url, seen) => {
          const { headers } = await order();
          const answer = await upload(url, headers, UPLOAD);
          checkError(answer, 413, "payload_too_large");
          check(answer.ms < QUICK_MS, `the 413 must come quickly, took ${Math.round(answer.ms)} ms`);
          check(answer.closed, `the server must close the connection after a 413 (${answer.written} bytes written)`);
          check(seen.length === 0, "no handler may run for an over-limit body");
        }),
      TEST_MS,
    );

    it(
      "answers 405 with Allow: POST to other methods",
      () =>
        serve({}, async (url) => {
          for (const method of ["GET", "PUT"]) {
            const answer = await answerOf(
              await fetch(url, {
                method,
                ...(method === "PUT" ? { body: "{}" } : {}),
                signal: AbortSignal.timeout(ANSWER_MS),
              }),
            );
            checkError(answer, 405, "method_not_allowed");
            check(
              answer.headers.get("allow") === "POST",
              `${method}: Allow must be POST, got ${answer.headers.get("allow")}`,
            );
          }
        }),
      TEST_MS,
    );

    it(
      "answers 500 when a handler fails without dead letters, so the sender retries",
      () =>
        serve({ fail: true }, async (url, seen) => {
          checkError(await post(url, await order()), 500, "handler_failed");
          check(seen.length === 1, `the handler must have run once, ran ${seen.length} times`);
        }),
      TEST_MS,
    );

    it(
      `answers ${FUZZ_RUNS} seeded malformed requests only as the answer table promises, never 5xx`,
      () =>
        serve({}, async (url) => {
          const random = seeded(FUZZ_SEED);
          const sent: { headers: Record<string, string>; body: Uint8Array }[] = [];
          for (let run = 0; run < FUZZ_RUNS; run++) {
            const testCase = await fuzzCase(random, SECRET, sent);
            const answer = await sendCase(url, testCase);
            const name = answerName(answer.status, answer.body);
            check(
              allowedAnswer(testCase, name) && answer.status < 500,
              `fuzz run ${run} (seed ${FUZZ_SEED}), ${testCase.method} ${testCase.absolute ? "absolute-form " : ""}` +
                `${testCase.label}, host ${JSON.stringify(testCase.host ?? "(real)")}, content type ` +
                `${JSON.stringify(testCase.headers["content-type"])}: expected ${testCase.allowed.join(" or ")}, got ` +
                `${name} ${JSON.stringify(answer.body)}`,
            );
          }
        }),
      60_000,
    );

    it(
      "answers 200 when a handler fails and the event is dead-lettered",
      () =>
        serve({ fail: true, deadLetters: memoryDeadLetters() }, async (url) => {
          const answer = await post(url, await order());
          check(
            answer.status === 200 && answer.body?.deadLettered === true,
            `expected 200 { deadLettered: true }, got ${answer.status} ${JSON.stringify(answer.body)}`,
          );
        }),
      TEST_MS,
    );
  });
}
