import { generateMessageId, type WebhookScheme } from "@hookline/core";
import { signedDelivery } from "@hookline/testing";
import { exampleFor, loadCatalog, schemaFor, validateData } from "./catalog";
import { EXIT, UsageError } from "./exit";
import { formatAnswer, isSuccess, post } from "./http";
import { parseHeaderOptions, parseJSON, readBody } from "./input";

/** The options of `hookline send`, as commander parses them. */
export interface SendOptions {
  file?: string;
  type?: string;
  data?: string;
  catalog?: string;
  example?: boolean;
  validate: boolean;
  id?: string;
  header: string[];
  repeat: number;
  stale?: number;
  tamper?: boolean;
  timeout: number;
}

/**
 * `hookline send`: signs a body (a file's exact bytes, or an event built from --type and --data, checked against a
 * catalog's schema) and POSTs it, `repeat` times; resolves the exit code (1 on a non-2xx answer).
 */
export async function send(
  url: string,
  options: SendOptions & { secret: string[]; scheme: WebhookScheme },
): Promise<number> {
  try {
    new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  const id = options.id ?? generateMessageId();
  const timestamp = Math.floor(Date.now() / 1000) - (options.stale ?? 0);
  const common = {
    scheme: options.scheme,
    secret: options.secret,
    id,
    timestamp,
    headers: parseHeaderOptions(options.header),
  };
  let delivery: { headers: Record<string, string>; body: string | Uint8Array };
  if (options.file) {
    if (options.type || options.data || options.catalog)
      throw new UsageError("--file sends a body as it is: drop --type, --data and --catalog");
    delivery = await signedDelivery({ ...common, payload: await readBody(options.file) });
  } else {
    if (!options.type)
      throw new UsageError("give a body: --file F, or --type T with --data JSON (or --catalog F --example)");
    let data: unknown;
    if (options.catalog) {
      const catalog = await loadCatalog(options.catalog);
      const schema = schemaFor(catalog, options.type);
      if (options.example) {
        if (options.data) throw new UsageError("--example builds the data: drop --data");
        data = exampleFor(catalog, options.type);
      } else if (options.data) {
        data = parseJSON("--data", options.data);
      } else {
        throw new UsageError("with --catalog, give --data JSON or --example");
      }
      const issues = await validateData(schema, data);
      if (issues.length > 0 && options.validate) {
        console.error(
          `✘ the data fails the ${options.type} schema:\n${issues.map((issue) => `  ${issue}`).join("\n")}`,
        );
        if (options.example) console.error("  → the example could not satisfy the schema: pass --data");
        else console.error("  → fix the data, or add --no-validate to send it anyway");
        return EXIT.failed;
      }
    } else {
      if (options.example) throw new UsageError("--example needs --catalog, the module whose schema builds it");
      data = options.data === undefined ? {} : parseJSON("--data", options.data);
    }
    delivery = await signedDelivery({ ...common, event: { type: options.type, data } });
  }
  let body = typeof delivery.body === "string" ? new TextEncoder().encode(delivery.body) : delivery.body;
  if (options.tamper) body = tampered(body);
  let failed = false;
  for (let round = 1; round <= options.repeat; round++) {
    const label = options.repeat > 1 ? ` (${round}/${options.repeat})` : "";
    console.log(
      `→ POST ${url}${label}: ${body.length} bytes, id ${id}${options.stale ? `, signed ${options.stale} s ago` : ""}${options.tamper ? ", tampered" : ""}`,
    );
    const answer = await post(url, Object.entries(delivery.headers), body, { timeoutMs: options.timeout });
    console.log(`${formatAnswer(answer)}\n`);
    if (!isSuccess(answer.status)) failed = true;
  }
  return failed ? EXIT.failed : EXIT.ok;
}

/** The body with one byte changed: the first digit moved on by one, else the last letter's case flipped. */
function tampered(body: Uint8Array): Uint8Array {
  const copy = new Uint8Array(body);
  const digit = copy.findIndex((byte) => byte >= 0x30 && byte <= 0x39);
  if (digit >= 0) {
    copy[digit] = copy[digit] === 0x39 ? 0x30 : copy[digit]! + 1;
    return copy;
  }
  for (let index = copy.length - 1; index >= 0; index--) {
    const byte = copy[index]!;
    if ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a) {
      copy[index] = byte ^ 0x20;
      return copy;
    }
  }
  const longer = new Uint8Array(copy.length + 1);
  longer.set(copy);
  longer[copy.length] = 0x20;
  return longer;
}
