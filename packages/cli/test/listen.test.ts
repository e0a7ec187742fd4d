import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createReceiver, generateSecret, memoryStore } from "@hookline/core";
import { nodeHandler } from "@hookline/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hookline, type Listening, scratch, startListen } from "./helpers";

const secret = generateSecret();
let work: Awaited<ReturnType<typeof scratch>>;
let app: Server;
let appUrl: string;
const processed: string[] = [];

beforeAll(async () => {
  work = await scratch("listen");
  // The app behind listen: a real Hookline receiver with no catalog (any type, handled by onAny).
  const receiver = createReceiver({ secret, store: memoryStore() }).onAny((event) => void processed.push(event.id));
  app = createServer(nodeHandler(receiver));
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/webhooks`;
});

afterAll(async () => {
  await new Promise((resolve) => app.close(resolve));
  await work.remove();
});

async function captures(dir: string) {
  const names = (await readdir(join(dir, ".hookline", "captures"))).sort();
  return Promise.all(
    names
      .filter((name) => name.endsWith(".json"))
      .map(async (name) => JSON.parse(await readFile(join(dir, ".hookline", "captures", name), "utf8"))),
  );
}

/** A raw HTTP request with headers fetch would not send as given (Host). */
function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.once("error", reject);
    req.end(options.body);
  });
}

describe("hookline listen without --forward-to", () => {
  let listening: Listening;
  let dir: string;
  beforeAll(async () => {
    dir = join(work.dir, "alone");
    await mkdir(dir);
    listening = await startListen(["--secret", secret, "--keep", "2", "--max-body-bytes", "4096"], dir);
  });
  afterAll(() => listening?.stop());

  it("keeps each request's exact bytes and headers on disk, answers like a receiver, and keeps at most --keep", async () => {
    const file = join(dir, "event.json");
    const bytes = '{ "type": "ping",  "data": {} }\r\n';
    await writeFile(file, bytes);
    const url = `${listening.url}/hooks/a?x=1`;
    expect((await hookline(["send", url, "--secret", secret, "--file", file, "--id", "msg_keep_1"])).stdout).toContain(
      '{"received":true}',
    );
    const tampered = await hookline(["send", url, "--secret", secret, "--file", file, "--tamper"]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain("HTTP 401");
    expect(tampered.stdout).toContain('"code":"no_matching_signature"');
    expect((await hookline(["send", url, "--secret", secret, "--file", file, "--id", "msg_keep_3"])).code).toBe(0);

    const kept = await captures(dir);
    expect(kept).toHaveLength(2);
    const [older, newer] = kept;
    expect(older).toMatchObject({
      method: "POST",
      path: "/hooks/a?x=1",
      eventType: "ping",
      verdict: { status: "invalid", code: "no_matching_signature" },
      answerStatus: 401,
    });
    expect(newer).toMatchObject({
      verdict: { status: "valid", id: "msg_keep_3" },
      answerStatus: 200,
      size: bytes.length,
    });
    expect(newer.headers).toContainEqual(["webhook-id", "msg_keep_3"]);
    expect(await readFile(join(dir, ".hookline", "captures", `${newer.id}.body`), "utf8")).toBe(bytes);
    expect(await readFile(join(dir, ".hookline", ".gitignore"), "utf8")).toBe("*\n");
    expect(listening.output()).toMatch(
      /POST \/hooks\/a\?x=1 {2}\d+ B {2}✘ no_matching_signature\n {4}→ No signature was made/,
    );
  });

  it("verify --capture checks a capture at its receipt time", async () => {
    expect(await hookline(["verify", "--secret", secret, "--capture", "last"], { cwd: dir })).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("id: msg_keep_3"),
    });
    const wrong = await hookline(["verify", "--secret", generateSecret(), "--capture", "last"], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect((await hookline(["verify", "--secret", secret, "--capture", "zzz"], { cwd: dir })).code).toBe(2);
  });

  it("answers 413 past --max-body-bytes and records the cut capture", async () => {
    const answer = await fetch(`${listening.url}/big`, { method: "POST", body: "x".repeat(10_000) });
    expect(answer.status).toBe(413);
    const [newest] = (await captures(dir)).reverse();
    expect(newest).toMatchObject({ path: "/big", size: 10_000, truncated: true, answerStatus: 413 });
  });

  it("exits 2 when its port is taken", async () => {
    const port = new URL(listening.url).port;
    const taken = await hookline(["listen", "--port", port], { cwd: dir });
    expect(taken).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`),
    });
  });

  it("serves the inspector on loopback names only, and replays only on a JSON request", async () => {
    expect((await fetch(`${listening.url}/_hookline/`)).headers.get("content-type")).toBe("text/html; charset=utf-8");
    const foreign = await rawRequest(`${listening.url}/_hookline/api/captures`, {
      headers: { host: "attacker.example" },
    });
    expect(foreign.status).toBe(403);
    const list = (await (await fetch(`${listening.url}/_hookline/api/captures`)).json()) as {
      captures: { id: string }[];
    };
    const id = list.captures[0]!.id;
    const simple = await rawRequest(`${listening.url}/_hookline/api/captures/${id}/replay`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(simple.status).toBe(415);
    const browser = await fetch(listening.url, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(browser.headers.get("location")).toBe("/_hookline/");
  });
});

describe("hookline listen --forward-to, and hookline replay", () => {
  let listening: Listening;
  let dir: string;
  beforeAll(async () => {
    dir = join(work.dir, "forward");
    await mkdir(dir);
    listening = await startListen(["--secret", secret, "--forward-to", appUrl], dir);
  });
  afterAll(() => listening?.stop());
  const sendOrder = (args: string[]) =>
    hookline(["send", `${listening.url}/webhooks`, "--secret", secret, "--type", "order.created", ...args]);

  it("forwards unchanged, relays the app's answer and records it with its timing", async () => {
    const sent = await sendOrder(["--data", '{"n":1}', "--id", "msg_fwd_1"]);
    expect(sent.code).toBe(0);
    expect(processed).toContain("msg_fwd_1");
    const [capture] = await captures(dir);
    expect(capture.forward).toMatchObject({
      url: appUrl,
      status: 200,
      body: '{"received":true}',
      durationMs: expect.any(Number),
    });
  });

  it("replays a stale capture: as captured the app refuses it, re-signed it is processed; both come back through listen", async () => {
    const stale = await sendOrder(["--data", '{"n":2}', "--id", "msg_fwd_2", "--stale", "900"]);
    expect(stale.code).toBe(1);
    const staleCapture = (await captures(dir)).at(-1);
    expect(staleCapture.verdict).toMatchObject({ code: "timestamp_too_old", skewSeconds: expect.any(Number) });

    const asCaptured = await hookline(["replay", "last"], { cwd: dir });
    expect(asCaptured.code).toBe(1);
    expect(asCaptured.stdout).toContain("timestamp_too_old");
    const resigned = await hookline(["replay", staleCapture.id, "--resign", "--secret", secret], { cwd: dir });
    expect(resigned.code).toBe(0);
    expect(processed).toContain("msg_fwd_2");
    const all = await captures(dir);
    expect(all.slice(-2).map((capture) => [capture.replayOf, capture.verdict.status])).toEqual([
      [staleCapture.id, "invalid"],
      [staleCapture.id, "valid"],
    ]);
    // Straight to the app, skipping listen: a duplicate now.
    const direct = await hookline(["replay", staleCapture.id, "--resign", "--secret", secret, "--to", appUrl], {
      cwd: dir,
    });
    expect(direct).toMatchObject({ code: 0, stdout: expect.stringContaining('"duplicate":true') });
  });

  it("answers 502 forward_failed when the app is down, and records why", async () => {
    const down = await startListen(
      ["--secret", secret, "--forward-to", "http://127.0.0.1:9/webhooks", "--dir", ".down"],
      dir,
    );
    try {
      const sent = await hookline(["send", `${down.url}/webhooks`, "--secret", secret, "--type", "x", "--data", "{}"]);
      expect(sent.code).toBe(1);
      expect(sent.stdout).toContain("HTTP 502");
      expect(sent.stdout).toContain("forward_failed");
    } finally {
      await down.stop();
    }
  });
});
