#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { generateMessageId, sign, toJSONSchema, toOpenAPI } from "@hookline/core";
import { Command, CommanderError, Option } from "commander";
import { CaptureStore } from "./captures";
import { loadCatalog } from "./catalog";
import { curlCommand } from "./curl";
import { formatVerdict, verdictOf } from "./diagnosis";
import { EXIT, EXIT_CODES_HELP, exitFor, UsageError } from "./exit";
import { formatAnswer, isSuccess, post } from "./http";
import { collect, parseHeaderOptions, parseInteger, readBody } from "./input";
import { listen } from "./listen";
import { REPLAY_HEADER, replayHeaders } from "./replay";
import { newSecret, type SchemeOptions, schemeFor, schemeOptions } from "./schemes";
import { type SendOptions, send } from "./send";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

let exitCode: number = EXIT.ok;

/** Wraps an action so that the number it returns becomes the process's exit code. */
function act<Args extends unknown[]>(action: (...args: Args) => Promise<number>) {
  return async (...args: Args): Promise<void> => {
    exitCode = await action(...args);
  };
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join("\n")}\n${EXIT_CODES_HELP}`;
}

/** `--secret` given (repeatable, for rotation), else WEBHOOK_SECRET. */
function secretsOf(values: string[] | undefined): string[] {
  if (values && values.length > 0) return values;
  return process.env.WEBHOOK_SECRET ? [process.env.WEBHOOK_SECRET] : [];
}

function requireSecrets(values: string[] | undefined): string[] {
  const secrets = secretsOf(values);
  if (secrets.length === 0) throw new UsageError("a secret is needed: --secret S (or the WEBHOOK_SECRET variable)");
  return secrets;
}

function secretOption(): Option {
  return new Option(
    "--secret <secret>",
    "the endpoint's secret; repeat it during a rotation (default: $WEBHOOK_SECRET)",
  ).argParser(collect);
}

function toleranceOption(): Option {
  return new Option("--tolerance <seconds>", "accepted clock skew, both ways")
    .argParser(parseInteger("--tolerance", 0))
    .default(300);
}

function withSchemes(command: Command): Command {
  for (const option of schemeOptions()) command.addOption(option);
  return command;
}

const program = new Command("hookline")
  .description(
    "A local webhook workbench: make secrets, sign, send, verify and replay webhooks, and run a local endpoint with a live inspector page. Offline: nothing leaves this machine.",
  )
  .version(version)
  .showHelpAfterError("(run with --help for usage and examples)")
  .exitOverride()
  .addHelpText(
    "after",
    examples([
      "hookline secret > .secret",
      "hookline listen --secret $(cat .secret) --forward-to http://127.0.0.1:3000/webhooks",
      'hookline send http://127.0.0.1:4400/webhooks --secret $(cat .secret) --type invoice.paid --data \'{"id":"in_1"}\'',
      "hookline verify --secret $(cat .secret) --capture last",
    ]),
  );

program
  .command("secret")
  .description(
    "Print a new secret in the scheme's form: whsec_ + base64 for Standard Webhooks, or a whsk_/whpk_ Ed25519 pair.",
  )
  .addOption(
    new Option("--scheme <name>", "the wire format")
      .choices(["standard-webhooks", "svix", "stripe", "github", "hmac"])
      .default("standard-webhooks"),
  )
  .option(
    "--ed25519",
    "an Ed25519 key pair (Standard Webhooks v1a): the whsk_ signing key, then the whpk_ verifying key",
  )
  .addHelpText(
    "after",
    examples([
      "hookline secret",
      "hookline secret --scheme github",
      "hookline secret --ed25519   # line 1: whsk_… (sender), line 2: whpk_… (receiver)",
    ]),
  )
  .action(
    act(async (options: { scheme: SchemeOptions["scheme"]; ed25519?: boolean }) => {
      const { secret, publicKey } = await newSecret(options.scheme, options.ed25519 === true);
      console.log(secret);
      if (publicKey) console.log(publicKey);
      return EXIT.ok;
    }),
  );

withSchemes(
  program
    .command("sign")
    .description(
      "Sign a body (FILE, or standard input) and print the headers to send with it, or a ready curl command.",
    )
    .argument("[file]", "the exact body to sign; - for standard input")
    .addOption(secretOption())
    .option("--id <id>", "the message id (default: a new msg_… id)")
    .option("--timestamp <seconds>", "the signing time in unix seconds (default: now)", parseInteger("--timestamp", 0))
    .option("--curl <url>", "print a curl command that POSTs the body with these headers to URL"),
)
  .addHelpText(
    "after",
    examples([
      "hookline sign --secret whsec_… event.json",
      'echo -n \'{"type":"ping"}\' | hookline sign --secret whsec_… -',
      "hookline sign --secret whsec_… --curl http://127.0.0.1:3000/webhooks event.json | sh",
    ]),
  )
  .action(
    act(
      async (
        file: string | undefined,
        options: SchemeOptions & { secret?: string[]; id?: string; timestamp?: number; curl?: string },
      ) => {
        const payload = await readBody(file);
        const headers = await sign({
          scheme: schemeFor(options),
          secret: requireSecrets(options.secret),
          payload,
          id: options.id ?? generateMessageId(),
          ...(options.timestamp !== undefined && { timestamp: options.timestamp }),
        });
        if (options.curl) {
          const all: [string, string][] = [["content-type", "application/json"], ...Object.entries(headers)];
          const body = file && file !== "-" ? { file } : { text: Buffer.from(payload).toString("utf8") };
          console.log(curlCommand(options.curl, all, body));
        } else {
          for (const [name, value] of Object.entries(headers)) console.log(`${name}: ${value}`);
        }
        return EXIT.ok;
      },
    ),
  );

withSchemes(
  program
    .command("verify")
    .description(
      "Verify a webhook's signature over its exact body (FILE, standard input, or a capture of hookline listen). Exit 0 when valid; otherwise exit 1 with the code and a diagnosis: clock skew in seconds, a body changed since signing (re-serialized JSON, a trailing newline), a secret with no signature, headers under the other prefix or of another scheme.",
    )
    .argument("[file]", "the exact body received; - for standard input")
    .addOption(secretOption())
    .option("--header <header>", "a received header, 'name: value'; repeat for each", collect, [])
    .option(
      "--capture <id>",
      "verify a capture of hookline listen instead (an id, a unique prefix, or last); checked at its receipt time",
    )
    .option("--dir <dir>", "where hookline listen keeps captures", ".hookline")
    .addOption(toleranceOption())
    .option(
      "--now <seconds>",
      "verify as if at this unix time (default: now, or the capture's receipt)",
      parseInteger("--now", 0),
    )
    .option("--json", "print the diagnosis as JSON"),
)
  .addHelpText(
    "after",
    examples([
      "hookline verify --secret whsec_… --header 'webhook-id: msg_1' --header 'webhook-timestamp: 1767225600' --header 'webhook-signature: v1,…' body.json",
      "hookline verify --secret whsec_… --capture last",
      'hookline verify --scheme stripe --secret whsec_… --header "stripe-signature: $SIG" - < body.json',
    ]),
  )
  .action(
    act(
      async (
        file: string | undefined,
        options: SchemeOptions & {
          secret?: string[];
          header: string[];
          capture?: string;
          dir: string;
          tolerance: number;
          now?: number;
          json?: boolean;
        },
      ) => {
        let payload: Uint8Array;
        let headers: Record<string, string>;
        let now = options.now !== undefined ? options.now * 1000 : Date.now();
        if (options.capture) {
          const { capture, body } = await new CaptureStore(options.dir).get(options.capture);
          payload = body;
          headers = parseHeaderOptions(capture.headers.map(([name, value]) => `${name}: ${value}`));
          if (options.now === undefined) now = Date.parse(capture.receivedAt);
        } else {
          if (options.header.length === 0)
            throw new UsageError("give the received headers with --header 'name: value' (or --capture ID)");
          payload = await readBody(file);
          headers = parseHeaderOptions(options.header);
        }
        const verdict = await verdictOf({
          scheme: schemeFor(options),
          secret: requireSecrets(options.secret),
          payload,
          headers,
          tolerance: options.tolerance,
          now,
        });
        console.log(options.json ? JSON.stringify(verdict, null, 2) : formatVerdict(verdict));
        return verdict.status === "valid" ? EXIT.ok : EXIT.failed;
      },
    ),
  );

withSchemes(
  program
    .command("send")
    .description(
      "Sign a webhook and POST its exact bytes to URL; print the answer's status, headers, body and timing. Exit 1 on a non-2xx answer. The body: a file, or an event { id, type, timestamp, data } built from --type and --data, validated against a catalog's schema with --catalog (or built from it with --example).",
    )
    .argument("<url>", "where to send it, such as http://127.0.0.1:4400/webhooks")
    .addOption(secretOption())
    .option("--file <file>", "send this file's exact bytes")
    .option("--type <type>", "the event type, such as invoice.paid")
    .option("--data <json>", "the event's data, as JSON")
    .option("--catalog <module>", "a TypeScript or JavaScript module exporting the event catalog (defineEvents)")
    .option("--example", "with --catalog: build the data from the type's schema")
    .option("--no-validate", "with --catalog: send data that fails the schema (to test the receiver's 400)")
    .option("--id <id>", "the message id (default: a new msg_… id)")
    .option("--header <header>", "an extra header, 'name: value'; repeatable", collect, [])
    .option(
      "--repeat <n>",
      "send the same bytes and headers n times (the receiver should process one)",
      parseInteger("--repeat", 1, 1000),
      1,
    )
    .option(
      "--stale <seconds>",
      "sign as if sent this many seconds ago (the receiver should refuse it)",
      parseInteger("--stale", 0),
    )
    .option("--tamper", "change one byte of the body after signing (the receiver should refuse it)")
    .option("--timeout <ms>", "how long to wait for each answer", parseInteger("--timeout", 1), 30_000),
)
  .addHelpText(
    "after",
    examples([
      "hookline send http://127.0.0.1:4400/webhooks --secret whsec_… --file event.json",
      'hookline send http://127.0.0.1:3000/webhooks --secret whsec_… --type invoice.paid --data \'{"id":"in_1","amountCents":4200}\'',
      "hookline send http://127.0.0.1:3000/webhooks --secret whsec_… --catalog ./src/events.ts --type invoice.paid --example",
      "hookline send http://127.0.0.1:3000/webhooks --secret whsec_… --file event.json --repeat 3   # one processed, two duplicates",
      "hookline send http://127.0.0.1:3000/webhooks --secret whsec_… --file event.json --stale 3600  # expect 401 timestamp_too_old",
      "hookline send http://127.0.0.1:3000/webhooks --secret whsec_… --file event.json --tamper      # expect 401 no_matching_signature",
    ]),
  )
  .action(
    act((url: string, options: SendOptions & SchemeOptions & { secret?: string[] }) =>
      send(url, { ...options, secret: requireSecrets(options.secret), scheme: schemeFor(options) }),
    ),
  );

withSchemes(
  program
    .command("listen")
    .description(
      "Run a local webhook endpoint: capture every request (raw bytes and headers, under --dir, the newest --keep), verify it with the same diagnosis as verify, forward it unchanged to your app and record its answer and timing, and serve the live inspector page at /_hookline/.",
    )
    .option("--port <port>", "the port (0: any free one)", parseInteger("--port", 0, 65_535), 4400)
    .option("--host <host>", "the address to listen on (keep it on loopback)", "127.0.0.1")
    .addOption(secretOption())
    .addOption(toleranceOption())
    .option(
      "--forward-to <url>",
      "your app's webhook URL: each request goes there unchanged, and its answer back to the sender",
    )
    .option("--dir <dir>", "where captures are kept", ".hookline")
    .option("--keep <n>", "how many captures to keep (the oldest go first)", parseInteger("--keep", 1), 500)
    .option(
      "--max-body-bytes <n>",
      "larger bodies are answered 413 and kept cut",
      parseInteger("--max-body-bytes", 1),
      1_048_576,
    ),
)
  .addHelpText(
    "after",
    examples([
      "hookline listen --secret whsec_…                                   # then open http://127.0.0.1:4400/_hookline/",
      "hookline listen --secret whsec_… --forward-to http://127.0.0.1:3000/webhooks",
      "hookline listen --scheme stripe --secret whsec_… --port 4242",
    ]),
  )
  .action(
    act(
      async (
        options: SchemeOptions & {
          port: number;
          host: string;
          secret?: string[];
          tolerance: number;
          forwardTo?: string;
          dir: string;
          keep: number;
          maxBodyBytes: number;
        },
      ) => {
        if (options.forwardTo) {
          try {
            new URL(options.forwardTo);
          } catch {
            throw new UsageError(`--forward-to is not a URL: ${options.forwardTo}`);
          }
        }
        const secrets = secretsOf(options.secret);
        const server = await listen({
          ...options,
          secrets,
          scheme: schemeFor(options),
          store: new CaptureStore(options.dir, options.keep),
        });
        // Every path is a webhook endpoint; the line has the shape the examples print, for the same test helper.
        console.log(`Listening on ${server.url} (webhooks at /)`);
        console.log(`Inspector at ${server.url}/_hookline/`);
        if (secrets.length === 0) console.log("No --secret: requests are captured but not verified");
        if (options.forwardTo) console.log(`Forwarding to ${options.forwardTo}`);
        await new Promise<void>((resolve) => {
          for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
        });
        await server.close();
        return EXIT.ok;
      },
    ),
  );

withSchemes(
  program
    .command("replay")
    .description(
      "Send a capture of hookline listen again: its exact bytes and headers, to where it was sent (listen, which captures and forwards it again) or --to another URL; with --resign, signed again with a fresh timestamp (same message id).",
    )
    .argument("<id>", "a capture id, a unique prefix of one, or last")
    .option("--to <url>", "send it here instead")
    .option("--resign", "sign it again now (needs the secret)")
    .addOption(secretOption())
    .option("--dir <dir>", "where hookline listen keeps captures", ".hookline")
    .option("--timeout <ms>", "how long to wait for the answer", parseInteger("--timeout", 1), 30_000),
)
  .addHelpText(
    "after",
    examples([
      "hookline replay last",
      "hookline replay 0mi3k2x9a1b2c3 --to http://127.0.0.1:3000/webhooks",
      "hookline replay last --resign --secret whsec_…   # a stale capture, made fresh",
    ]),
  )
  .action(
    act(
      async (
        id: string,
        options: SchemeOptions & { to?: string; resign?: boolean; secret?: string[]; dir: string; timeout: number },
      ) => {
        const { capture, body } = await new CaptureStore(options.dir).get(id);
        const headers = await replayHeaders(
          capture,
          body,
          options.resign ? { secret: requireSecrets(options.secret), scheme: schemeFor(options) } : undefined,
        );
        const target = options.to ?? capture.url;
        // Back through listen: the new capture links to this one.
        if (!options.to) headers.push([REPLAY_HEADER, capture.id]);
        console.log(
          `→ ${capture.method} ${target}: capture ${capture.id}, ${body.length} bytes${options.resign ? ", re-signed" : ""}`,
        );
        const answer = await post(target, headers, body, { method: capture.method, timeoutMs: options.timeout });
        console.log(formatAnswer(answer));
        return isSuccess(answer.status) ? EXIT.ok : EXIT.failed;
      },
    ),
  );

program
  .command("schema")
  .description(
    "Export an event catalog's schemas: an OpenAPI 3.1 document with one entry per event type under webhooks, or the JSON Schema of each type's data. Uses the schema library's own JSON Schema output (zod ≥ 4.2).",
  )
  .requiredOption("--catalog <module>", "a TypeScript or JavaScript module exporting the event catalog (defineEvents)")
  .addOption(new Option("--format <format>", "what to write").choices(["openapi", "json-schema"]).default("openapi"))
  .option("--out <file>", "write here instead of standard output")
  .option("--title <title>", "the OpenAPI document's title", "Webhooks")
  .option("--doc-version <version>", "the OpenAPI document's version", "1.0.0")
  .addHelpText(
    "after",
    examples([
      "hookline schema --catalog ./src/events.ts > webhooks.openapi.json",
      'hookline schema --catalog ./src/events.ts --title "Acme webhooks" --doc-version 2.0.0 --out docs/webhooks.json',
      "hookline schema --catalog ./src/events.ts --format json-schema",
    ]),
  )
  .action(
    act(
      async (options: {
        catalog: string;
        format: "openapi" | "json-schema";
        out?: string;
        title: string;
        docVersion: string;
      }) => {
        const catalog = await loadCatalog(options.catalog);
        const document =
          options.format === "openapi"
            ? toOpenAPI(catalog, { title: options.title, version: options.docVersion })
            : toJSONSchema(catalog);
        const text = `${JSON.stringify(document, null, 2)}\n`;
        if (options.out) {
          await mkdir(dirname(options.out), { recursive: true });
          await writeFile(options.out, text);
          console.error(`wrote ${options.out}`);
        } else {
          process.stdout.write(text);
        }
        return EXIT.ok;
      },
    ),
  );

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed the message; help and --version are successes.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { code, message } = exitFor(error);
    console.error(`hookline: ${message}`);
    return code;
  }
}

process.exitCode = await main();
