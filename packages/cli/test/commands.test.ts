import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createReceiver, generateSecret, memoryStore, sign, verify } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { events } from "./fixtures/events";
import { hookline, scratch } from "./helpers";

const secret = generateSecret();
const catalog = new URL("./fixtures/events.ts", import.meta.url).pathname;
let work: Awaited<ReturnType<typeof scratch>>;
let server: Server;
let receiverUrl: string;
const handled: unknown[] = [];

beforeAll(async () => {
  work = await scratch("commands");
  // A real Hookline receiver on loopback: what `send` exercises.
  const receiver = createReceiver({ secret, events, store: memoryStore() })
    .on("invoice.paid", (event) => void handled.push(event.data))
    .on("customer.deleted", (event) => void handled.push(event.data));
  server = createServer(nodeHandler(receiver));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await work.remove();
});

describe("--help", () => {
  it.each(["secret", "sign", "verify", "send", "listen", "replay", "schema"])(
    "%s has a description, examples and the exit codes",
    async (command) => {
      const { code, stdout } = await hookline([command, "--help"]);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: hookline ${command} `));
      expect(stdout).toContain("Examples:\n  hookline ");
      expect(stdout).toContain("Exit codes:\n  0  success");
    },
  );

  it("exits 2 on an unknown command or option, 0 for --version", async () => {
    expect((await hookline(["bogus"])).code).toBe(2);
    const bad = await hookline(["send", "http://127.0.0.1:1/", "--nope"]);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown option '--nope'") });
    expect(await hookline(["--version"])).toMatchObject({ code: 0, stdout: "0.0.0\n" });
  });
});

describe("secret", () => {
  it("makes secrets in each scheme's form, and Ed25519 pairs that sign and verify", async () => {
    const standard = (await hookline(["secret"])).stdout.trim();
    expect(standard).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect((await hookline(["secret", "--scheme", "stripe"])).stdout).toMatch(/^whsec_[A-Za-z0-9]{32}\n$/);
    expect((await hookline(["secret", "--scheme", "github"])).stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const [signing, verifying] = (await hookline(["secret", "--ed25519"])).stdout.trim().split("\n");
    expect(signing).toMatch(/^whsk_/);
    expect(verifying).toMatch(/^whpk_/);
    const headers = await sign({ secret: signing!, payload: "{}" });
    await expect(verify({ secret: verifying!, payload: "{}", headers })).resolves.toBeTruthy();
    expect((await hookline(["secret", "--scheme", "stripe", "--ed25519"])).code).toBe(2);
  });
});

describe("sign and verify", () => {
  const body = '{"type":"invoice.paid","data":{"id":"in_1"}}\n';

  it("signs a file; verify accepts its headers and exits 0", async () => {
    const file = join(work.dir, "event.json");
    await writeFile(file, body);
    const signed = await hookline(["sign", "--secret", secret, "--id", "msg_cli_1", file]);
    expect(signed.code).toBe(0);
    const headers = signed.stdout.trim().split("\n");
    expect(headers).toEqual([
      "webhook-id: msg_cli_1",
      expect.stringMatching(/^webhook-timestamp: \d+$/),
      expect.stringMatching(/^webhook-signature: v1,/),
    ]);
    // The core agrees with the CLI's signature over the exact bytes (trailing newline included).
    const record = Object.fromEntries(headers.map((line) => line.split(": ") as [string, string]));
    await expect(verify({ secret, payload: body, headers: record })).resolves.toMatchObject({ id: "msg_cli_1" });

    const verified = await hookline(["verify", "--secret", secret, ...headers.flatMap((h) => ["--header", h]), file]);
    expect(verified).toMatchObject({ code: 0, stdout: expect.stringMatching(/^✔ valid\n {2}id: msg_cli_1\n/) });
  });

  it("diagnoses a trailing newline, a wrong secret, clock skew and the other prefix, exiting 1", async () => {
    const headers = await sign({ secret, payload: body.trimEnd(), id: "msg_cli_2" });
    const args = Object.entries(headers).flatMap(([name, value]) => ["--header", `${name}: ${value}`]);

    const newline = await hookline(["verify", "--secret", secret, ...args, "-"], { input: body });
    expect(newline.code).toBe(1);
    expect(newline.stdout).toContain("✘ no_matching_signature");
    expect(newline.stdout).toContain("→ The body changed since signing: the body gained a trailing newline");

    const wrong = await hookline(["verify", "--secret", generateSecret(), ...args, "-"], { input: body.trimEnd() });
    expect(wrong).toMatchObject({ code: 1, stdout: expect.stringContaining("No signature was made with this secret") });

    const stale = await hookline(
      ["verify", "--secret", secret, ...args, "--now", String(Number(headers["webhook-timestamp"]) + 7200), "-"],
      {
        input: body.trimEnd(),
      },
    );
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain("✘ timestamp_too_old");
    expect(stale.stdout).toContain("clock skew: 7200 s (signed in the past)");
    expect(stale.stdout).toContain("The signature itself is valid");

    const mixed = args.map((arg) => arg.replace(/^webhook-id:/, "svix-id:"));
    const prefix = await hookline(["verify", "--secret", secret, ...mixed, "--json", "-"], { input: body.trimEnd() });
    expect(prefix.code).toBe(1);
    expect(JSON.parse(prefix.stdout)).toMatchObject({
      status: "invalid",
      code: "missing_header",
      hints: [expect.stringContaining("svix-id is present but webhook-id is not")],
    });
  });

  it("prints a curl command that delivers the exact bytes", async () => {
    const file = join(work.dir, "curl.json");
    await writeFile(file, JSON.stringify({ type: "customer.deleted", data: { id: "cus_curl" } }));
    const { code, stdout } = await hookline(["sign", "--secret", secret, "--curl", receiverUrl, file]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/webhooks -H 'content-type: application\/json' -H 'webhook-id: msg_\w+' /,
    );
    expect(stdout.trim().endsWith(`--data-binary @${file}`)).toBe(true);
  });

  it("exits 2 when the input is unusable", async () => {
    expect((await hookline(["verify", "--secret", secret, "body.json"])).code).toBe(2); // no headers
    expect((await hookline(["verify", "--secret", secret, "--header", "x", "-"], { input: "{}" })).code).toBe(2);
    expect((await hookline(["sign", "--secret", secret, join(work.dir, "missing.json")])).stderr).toContain(
      "cannot read",
    );
    expect((await hookline(["sign", join(work.dir, "missing.json")])).code).toBe(2); // no secret
  });
});

/** `hookline send` to the real receiver with its secret. */
const sendToReceiver = (args: string[]) => hookline(["send", receiverUrl, "--secret", secret, ...args]);

describe("send", () => {
  it("sends an event built from --type and --data to a real receiver; exit 0 on 2xx", async () => {
    const data = { id: "cus_send", reason: "asked" };
    const { code, stdout } = await sendToReceiver(["--type", "customer.deleted", "--data", JSON.stringify(data)]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^→ POST http:\/\/127\.0\.0\.1:\d+\/webhooks: \d+ bytes, id msg_\w+\nHTTP 200 in [\d.]+ ms\n/,
    );
    expect(stdout).toContain('{"received":true}');
    expect(handled).toContainEqual(data);
  });

  it("--repeat sends the same delivery: processed once, then duplicates", async () => {
    const before = handled.length;
    const { code, stdout } = await sendToReceiver([
      "--type",
      "customer.deleted",
      "--data",
      '{"id":"cus_twice"}',
      "--repeat",
      "3",
    ]);
    expect(code).toBe(0);
    expect(stdout.match(/"duplicate":true/g)).toHaveLength(2);
    expect(handled.length - before).toBe(1);
  });

  it("--stale and --tamper are refused by the receiver; exit 1", async () => {
    const stale = await sendToReceiver(["--type", "customer.deleted", "--data", '{"id":"c"}', "--stale", "3600"]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain("HTTP 401");
    expect(stale.stdout).toContain("timestamp_too_old");
    const tampered = await sendToReceiver(["--type", "customer.deleted", "--data", '{"id":"c"}', "--tamper"]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain("no_matching_signature");
  });

  it("--catalog validates the data against the schema before sending", async () => {
    const invalid = await sendToReceiver([
      "--catalog",
      catalog,
      "--type",
      "invoice.paid",
      "--data",
      '{"id":"x","amountCents":-1}',
    ]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("✘ the data fails the invoice.paid schema:");
    expect(invalid.stderr).toContain("amountCents: ");
    expect(invalid.stdout).toBe(""); // nothing sent
    // --no-validate sends it anyway: the receiver's own schema answers 400.
    const sent = await sendToReceiver([
      "--catalog",
      catalog,
      "--type",
      "invoice.paid",
      "--data",
      '{"id":"x"}',
      "--no-validate",
    ]);
    expect(sent).toMatchObject({ code: 1, stdout: expect.stringContaining("invalid_event") });
    const unknown = await sendToReceiver(["--catalog", catalog, "--type", "nope", "--example"]);
    expect(unknown).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no type "nope" in the catalog; it has invoice.paid, customer.deleted'),
    });
  });

  it("--example builds data the schema and the receiver accept", async () => {
    const before = handled.length;
    const { code, stdout } = await sendToReceiver(["--catalog", catalog, "--type", "invoice.paid", "--example"]);
    expect(code, stdout).toBe(0);
    expect(handled.length - before).toBe(1);
    const data = handled.at(-1);
    expect(events["invoice.paid"].safeParse(data).success).toBe(true);
    expect(data).toMatchObject({ currency: "eur", customer: { email: "someone@example.com" } });
  });

  it("sends a file's exact bytes, and exits 3 when nobody answers", async () => {
    const file = join(work.dir, "exact.json");
    await writeFile(file, '{ "type" : "customer.deleted", "data": {"id":"cus_exact"} }\n\n');
    expect((await sendToReceiver(["--file", file])).code).toBe(0);
    const closed = await hookline([
      "send",
      "http://127.0.0.1:9/webhooks",
      "--secret",
      secret,
      "--file",
      file,
      "--timeout",
      "5000",
    ]);
    expect(closed).toMatchObject({
      code: 3,
      stderr: expect.stringContaining("no answer from http://127.0.0.1:9/webhooks"),
    });
  });
});

describe("schema", () => {
  it("writes the JSON Schema of each type's data", async () => {
    const out = join(work.dir, "schemas", "events.json");
    const { code } = await hookline(["schema", "--catalog", catalog, "--format", "json-schema", "--out", out]);
    expect(code).toBe(0);
    const schemas = JSON.parse(await readFile(out, "utf8"));
    expect(Object.keys(schemas)).toEqual(["invoice.paid", "customer.deleted"]);
    expect(schemas["invoice.paid"]).toMatchObject({
      type: "object",
      properties: { currency: { enum: ["eur", "usd"] } },
    });
  });

  it("exits 2 for a module without a catalog", async () => {
    const file = join(work.dir, "empty.ts");
    await writeFile(file, "export const nothing: number = 1;\n");
    expect(await hookline(["schema", "--catalog", file])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("exports no event catalog"),
    });
  });
});
