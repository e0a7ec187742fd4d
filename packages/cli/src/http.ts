import { UnreachableError } from "./exit";

/** An HTTP answer as the CLI and the inspector record it. */
export interface Answer {
  status: number;
  headers: [string, string][];
  /** The body as text, cut at {@link ANSWER_LIMIT} characters. */
  body: string;
  /** From sending the request to the end of the answer's body, in milliseconds. */
  durationMs: number;
}

/** How much of an answer's body is kept. */
export const ANSWER_LIMIT = 64 * 1024;

/** Headers that describe one hop, not the message: never copied to another request. */
const HOP_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
]);

export function endToEnd(headers: Iterable<[string, string]>): [string, string][] {
  return [...headers].filter(([name]) => !HOP_HEADERS.has(name.toLowerCase()));
}

/** POSTs exactly these bytes with these headers; throws {@link UnreachableError} when nobody answers. */
export async function post(
  url: string,
  headers: Iterable<[string, string]>,
  body: Uint8Array,
  options: { timeoutMs?: number; method?: string } = {},
): Promise<Answer> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "POST",
      headers: endToEnd(headers),
      body: options.method === "GET" || options.method === "HEAD" ? null : (body as BodyInit),
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new UnreachableError(`no answer from ${url}: ${reason}`);
  }
  const text = await response.text();
  return {
    status: response.status,
    headers: [...response.headers],
    body: text.length > ANSWER_LIMIT ? `${text.slice(0, ANSWER_LIMIT)}…` : text,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  };
}

/** An answer as `send` and `replay` print it: status and timing, headers, then the body. */
export function formatAnswer(answer: Answer): string {
  const lines = [`HTTP ${answer.status} in ${answer.durationMs} ms`];
  for (const [name, value] of answer.headers) lines.push(`${name}: ${value}`);
  lines.push("", answer.body);
  return lines.join("\n");
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
