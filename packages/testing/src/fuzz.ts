/**
 * Malformed requests from a seed, each with the answers the README's table allows for it. Shared by the adapter
 * contract (over real HTTP) and the kit's fuzz suite of the receiver (`receive`/`handle`, test/fuzz.test.ts), so
 * that both hold every answer to one oracle. A seeded generator rather than fast-check, so that `@hookline/testing` needs nothing more.
 *
 * @module
 */
import { signedDelivery } from "./kit";

/** One fuzzed request: what is sent, and which answers the answer table allows for it. */
export interface FuzzCase {
  method: string;
  /** Appended to the route's path: a query, or nothing. */
  query: string;
  /** A Host header to send instead of the real one. */
  host?: string;
  /** Whether the target is absolute-form (`http://host/path`), as a client speaking to a proxy sends it. */
  absolute: boolean;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Allowed answers: `status code` (such as `401 no_matching_signature`), or `200 duplicate` / `200 ignored`. */
  allowed: string[];
  /** What the case is, for failure messages. */
  label: string;
}

/** The answer as the oracle names it: `status code`, or `200 received|duplicate|ignored`. */
export function answerName(status: number, body: unknown): string {
  const parsed = body as { error?: { code?: unknown }; duplicate?: unknown; ignored?: unknown } | undefined;
  if (typeof parsed?.error?.code === "string") return `${status} ${parsed.error.code}`;
  if (status === 200 && parsed?.duplicate === true) return "200 duplicate";
  if (status === 200 && parsed?.ignored === true) return "200 ignored";
  if (status === 200 && (parsed as { received?: unknown } | undefined)?.received === true) return "200 received";
  return `${status} (not a Hookline answer)`;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same cases on every run. */
export function seeded(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (below: number) => Math.floor(next() * below);
  return { next, int, pick: <T>(list: readonly T[]): T => list[int(list.length)]! };
}

const METHODS = ["GET", "PUT", "DELETE", "PATCH"];
const BAD_HOSTS = ["[::1", "exa mple.com", "example.com/evil", "a@b", "h\u00f6st", "x:1:2"];
const CONTENT_TYPES = [
  "application/json",
  "",
  "json",
  "a/b/c",
  ";;;",
  "text/plain; charset=utf-8",
  "application/j\u00f6son",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "*/*",
  "application/json; charset=utf-16",
];
const QUERIES = ["", "", "?a=1", "?%zz", "?x=%E2%82%AC&y", "?__proto__[a]=1"];
const TYPES = ["order.created", "order.created", "other.event", "__proto__", "constructor", "toString"];
const NOT_JSON = ["", "not json", "{", "[1,2", "\u0000", '{"type":}'];
const NO_TYPE = ["{}", "[]", "null", "1", '"text"', '{"type":""}', '{"type":1}', '{"data":{}}'];

function randomBytes(random: ReturnType<typeof seeded>, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => random.int(256));
}

function latin1(random: ReturnType<typeof seeded>, length: number): string {
  // Printable Latin-1, what an HTTP/1.1 client can put in a header value.
  return Array.from({ length }, () =>
    String.fromCharCode(random.pick([0x20 + random.int(0x5f), 0xa0 + random.int(0x60)])),
  ).join("");
}

/**
 * The next case from `random`. `sent` holds earlier signed deliveries (for redeliveries); `handled` is the event
 * type the receiver has a handler for (others are ignored).
 */
export async function fuzzCase(
  random: ReturnType<typeof seeded>,
  secret: string,
  sent: { headers: Record<string, string>; body: Uint8Array }[],
  handled = "order.created",
): Promise<FuzzCase> {
  const method = random.next() < 0.85 ? "POST" : random.pick(METHODS);
  const query = random.pick(QUERIES);
  const absolute = random.next() < 0.1;
  const host = random.next() < 0.08 ? random.pick(BAD_HOSTS) : undefined;
  const contentType = random.next() < 0.15 ? latin1(random, random.int(24)) : random.pick(CONTENT_TYPES);

  let headers: Record<string, string>;
  let body: Uint8Array;
  let outcome: string;
  let label: string;
  const shape = random.int(10);
  if (shape === 0 && sent.length > 0) {
    ({ headers, body } = random.pick(sent));
    outcome = "200 duplicate";
    label = "a redelivery";
  } else if (shape <= 1) {
    headers = {};
    body = randomBytes(random, random.int(64));
    outcome = "401 missing_header";
    label = "unsigned bytes";
  } else {
    const kind = random.int(6);
    const type = random.pick(TYPES);
    const payload =
      kind === 0
        ? random.pick(NOT_JSON)
        : kind === 1
          ? random.pick(NO_TYPE)
          : JSON.stringify({ type, data: { n: random.int(1000), note: latin1(random, random.int(8)) } });
    const signed = await signedDelivery({ secret, payload });
    headers = signed.headers;
    body = new TextEncoder().encode(payload);
    outcome =
      kind === 0
        ? "400 invalid_json"
        : kind === 1
          ? "400 invalid_envelope"
          : type === handled
            ? "200 received"
            : "200 ignored";
    label = `signed ${JSON.stringify(payload.slice(0, 40))}`;
    if (random.next() < 0.15) {
      body = Uint8Array.from([...body, 0x20]);
      outcome = "401 no_matching_signature";
      label = `tampered ${label}`;
    } else if (random.next() < 0.08) {
      headers = { ...headers, "webhook-signature": `v1,${latin1(random, random.int(40))}` };
      outcome = "401 *"; // whichever verification code the garbling earns
      label = `garbled signature on ${label}`;
    } else if (outcome === "200 received" && method === "POST" && host === undefined) {
      sent.push({ headers, body });
    }
  }
  headers = { ...headers, "content-type": contentType };

  // The receiver's steps in order: method, Host, then verification and the event.
  const allowed: string[] = [];
  if (host !== undefined) allowed.push("400 *"); // a framework or Node may refuse a bad Host itself
  if (method !== "POST") allowed.push("405 method_not_allowed");
  else if (host !== undefined) allowed.push("400 malformed_request");
  else allowed.push(outcome);
  return { method, query, absolute, ...(host === undefined ? {} : { host }), headers, body, allowed, label };
}

/** Whether an answer is one the case allows; `*` stands for any code, or none (a framework's own answer). */
export function allowedAnswer(testCase: FuzzCase, answer: string): boolean {
  return testCase.allowed.some((allowed) =>
    allowed.endsWith(" *") ? answer.startsWith(allowed.slice(0, 4)) : allowed === answer,
  );
}
