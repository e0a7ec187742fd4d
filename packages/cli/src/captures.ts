import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Diagnosis } from "@hookline/core";
import { UsageError } from "./exit";
import type { Answer } from "./http";

/** What `listen` concluded about a capture's signature. */
export interface Verdict extends Omit<Diagnosis, "valid"> {
  /** `unverified` when `listen` runs without `--secret`. */
  status: "valid" | "invalid" | "unverified";
}

/** The app's answer to a forwarded capture, or why there was none. */
export interface ForwardResult extends Partial<Answer> {
  url: string;
  error?: string;
}

/** One request `listen` received: kept as `<id>.json` beside its exact bytes in `<id>.body`. */
export interface Capture {
  id: string;
  /** ISO time of receipt. */
  receivedAt: string;
  method: string;
  /** Path and query as requested. */
  path: string;
  /** The URL it was sent to (listen's own), where `replay` sends it again by default. */
  url: string;
  /** Header name/value pairs in the order and case received. */
  headers: [string, string][];
  /** Body size in bytes (as received, before any cut). */
  size: number;
  /** True when the body was over `--max-body-bytes`: only that much is kept, and the sender got a 413. */
  truncated: boolean;
  /** The body's JSON `type` (or GitHub's `x-github-event`), for the inspector's filter. */
  eventType?: string;
  verdict: Verdict;
  /** The status `listen` answered the sender with. */
  answerStatus?: number;
  forward?: ForwardResult;
  /** The capture this one replays, when sent by `replay` or the inspector's buttons. */
  replayOf?: string;
}

/** Captures on disk under one folder, at most `keep` of them: the oldest go first. */
export class CaptureStore {
  readonly dir: string;
  private readonly keep: number;
  private ids: string[] | undefined;

  constructor(dir: string, keep = 500) {
    this.dir = resolve(dir, "captures");
    this.keep = keep;
  }

  /** A new id that sorts by time: base36 milliseconds, then random letters. */
  static newId(): string {
    return `${Date.now().toString(36).padStart(9, "0")}${randomBytes(3).toString("hex")}`;
  }

  bodyPath(id: string): string {
    return join(this.dir, `${checkId(id)}.body`);
  }

  /** Ids, newest first. */
  async list(): Promise<string[]> {
    if (this.ids === undefined) {
      let names: string[] = [];
      try {
        names = await readdir(this.dir);
      } catch {}
      this.ids = names
        .filter((name) => name.endsWith(".json"))
        .map((name) => name.slice(0, -5))
        .sort()
        .reverse();
    }
    return [...this.ids];
  }

  async add(capture: Capture, body: Uint8Array): Promise<void> {
    await this.list();
    await mkdir(this.dir, { recursive: true });
    // Captures hold secrets' signatures and real payloads: keep them out of the app's repository.
    await writeFile(resolve(this.dir, "..", ".gitignore"), "*\n");
    await writeFile(this.bodyPath(capture.id), body);
    await this.save(capture);
    this.ids!.unshift(capture.id);
    for (const old of this.ids!.splice(this.keep)) {
      await rm(join(this.dir, `${old}.json`), { force: true });
      await rm(join(this.dir, `${old}.body`), { force: true });
    }
  }

  save(capture: Capture): Promise<void> {
    return writeFile(join(this.dir, `${checkId(capture.id)}.json`), `${JSON.stringify(capture, null, 2)}\n`);
  }

  /** The capture and its exact bytes; `id` may be a unique prefix, or `last` for the newest. */
  async get(id: string): Promise<{ capture: Capture; body: Uint8Array }> {
    const ids = await this.list();
    const matches = id === "last" ? ids.slice(0, 1) : ids.filter((candidate) => candidate.startsWith(id));
    if (matches.length !== 1) {
      throw new UsageError(
        matches.length === 0
          ? `no capture ${JSON.stringify(id)} in ${this.dir} (hookline listen keeps them there; --dir names another folder)`
          : `${JSON.stringify(id)} matches ${matches.length} captures: give more of the id`,
      );
    }
    const found = matches[0]!;
    const capture = JSON.parse(await readFile(join(this.dir, `${found}.json`), "utf8")) as Capture;
    return { capture, body: new Uint8Array(await readFile(this.bodyPath(found))) };
  }
}

function checkId(id: string): string {
  if (!/^[0-9a-z]+$/.test(id)) throw new UsageError(`not a capture id: ${JSON.stringify(id)}`);
  return id;
}

/** The event type a body names (`type` in JSON), else GitHub's header. */
export function eventTypeOf(body: Uint8Array, headers: readonly [string, string][]): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString("utf8")) as { type?: unknown };
    if (typeof parsed?.type === "string" && parsed.type !== "") return parsed.type;
  } catch {}
  return headers.find(([name]) => name.toLowerCase() === "x-github-event")?.[1];
}
