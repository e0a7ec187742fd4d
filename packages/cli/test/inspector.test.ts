// biome-ignore-all lint/performance/useDomNodeTextContent: these are playwright locators, whose innerText is what a person sees
/**
 * The inspector as a person uses it, in Debian's Chromium driven by playwright-core: `hookline listen` forwards to
 * the Hono example, `hookline send` delivers a valid, a tampered and a stale event, and the page must show them live,
 * explain the failures, replay, and show the example's answers. Skipped (loudly) without /usr/bin/chromium, except
 * under CI, where .ci/run installs it and a missing browser fails the run.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "@hookline/core";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningExample, startExample } from "../../../examples/start-example";
import { hookline, type Listening, scratch, startListen } from "./helpers";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = fileURLToPath(new URL("./output/", import.meta.url));
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  if (process.env.CI === "true") throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.warn(`SKIPPED the inspector browser test: no ${CHROMIUM} (apt-get install -y chromium)`);
}

describe.skipIf(!hasChromium)("the inspector page in Chromium", () => {
  const secret = generateSecret();
  let app: RunningExample;
  let listening: Listening;
  let work: Awaited<ReturnType<typeof scratch>>;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let target: string;
  const answers: Record<string, string> = {};

  beforeAll(async () => {
    work = await scratch("inspector");
    app = await startExample(new URL("../../../examples/hono/server.mjs", import.meta.url), {
      env: { WEBHOOK_SECRET: secret },
    });
    listening = await startListen(["--secret", secret, "--forward-to", `${app.url}${app.webhookPath}`], work.dir);
    target = `${listening.url}/webhooks`;
    profile = await mkdtemp(join(tmpdir(), "hookline-chromium-"));
    // A fresh profile (--user-data-dir), which playwright takes as launchPersistentContext's first argument.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${listening.url}/_hookline/`);
    await page.locator('#connection[data-state="open"]').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await listening?.stop();
    await app?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
    await work?.remove();
  });

  const rows = () => page.locator("#captures tbody tr");
  const cellTexts = async (index: number) => rows().nth(index).locator("td").allInnerTexts();

  async function send(name: string, ...extra: string[]) {
    const data = JSON.stringify({ id: `in_${name}`, amountCents: 4200 });
    const run = await hookline([
      "send",
      target,
      "--secret",
      secret,
      "--type",
      "invoice.paid",
      "--data",
      data,
      ...extra,
    ]);
    // listen answers the sender with the app's answer: the last line of what send printed is its body.
    answers[name] = run.stdout.trim().split("\n").at(-1)!;
    return run;
  }

  it("shows a valid, a tampered and a stale delivery as they arrive, newest first, without a reload", async () => {
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = "same page";
    });
    expect((await send("valid")).code).toBe(0);
    expect((await send("tampered", "--tamper")).code).toBe(1);
    expect((await send("stale", "--stale", "3600")).code).toBe(1);

    await rows().nth(2).waitFor();
    await page.locator("#captures tbody tr:first-child td", { hasText: "→ 401" }).first().waitFor();
    expect(await rows().count()).toBe(3);
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");

    const [stale, tampered, valid] = [await cellTexts(0), await cellTexts(1), await cellTexts(2)];
    expect(valid.slice(1)).toEqual([
      "POST /webhooks",
      "invoice.paid",
      expect.stringMatching(/^\d+ B$/),
      "✔ valid",
      expect.stringMatching(/^→ 200 · \d+ ms$/),
    ]);
    expect(tampered[4]).toBe("✘ no_matching_signature");
    expect(tampered[5]).toMatch(/^→ 401 · /);
    expect(stale[4]).toBe("✘ timestamp_too_old");
    expect(stale[5]).toMatch(/^→ 401 · /);
    expect(answers.valid).toBe('{"received":true}');
  });

  it("shows the diagnosis, headers, raw body and the example's own answer in the detail pane (keyboard)", async () => {
    // Keyboard only: focus the newest row's button, open it, then arrow down to the tampered one.
    await rows().nth(0).locator("button.open").focus();
    await page.keyboard.press("Enter");
    await page.locator("#verdict-line", { hasText: "timestamp_too_old" }).waitFor();
    const diagnosis = await page.locator("#diagnosis").innerText();
    expect(diagnosis).toMatch(/Signed 360\d s \(60 min\) ago, beyond the 300 s tolerance/);
    expect(diagnosis).toContain("The signature itself is valid: only the time is off");
    expect(await page.locator("#forward-body").innerText()).toBe(answers.stale);

    await page.keyboard.press("ArrowDown");
    await page.locator("#verdict-line", { hasText: "no_matching_signature" }).waitFor();
    expect(await page.locator("#diagnosis").innerText()).toContain("No signature was made with this secret");
    expect(await page.locator("#forward-line").innerText()).toMatch(/answered HTTP 401 in [\d.]+ ms$/);
    expect(await page.locator("#forward-body").innerText()).toBe(answers.tampered);
    expect(JSON.parse(answers.tampered!)).toMatchObject({ error: { code: "no_matching_signature" } });
    expect(await page.locator("#headers").innerText()).toMatch(/webhook-signature\s+v1,/);
    expect(JSON.parse(await page.locator("#raw").innerText())).toMatchObject({
      type: "invoice.paid",
      data: { id: "in_tampered" },
    });

    await page.keyboard.press("ArrowDown");
    await page.locator("#verdict-line", { hasText: "✔ valid signature" }).waitFor();
    expect(await page.locator("#forward-body").innerText()).toBe('{"received":true}');
    expect(await page.locator("#pretty").innerText()).toContain('"amountCents": 4200');
  });

  it("replays: as is (the example answers duplicate) and re-signed (a stale delivery made fresh is processed)", async () => {
    await page.getByRole("button", { name: "Replay as is" }).click();
    await rows().nth(3).waitFor();
    await page.locator("#action-status", { hasText: "Replayed as is: answered HTTP 200" }).waitFor();
    const asIs = await cellTexts(0);
    expect(asIs[1]).toBe("POST /webhooks replay");
    expect(asIs[4]).toBe("✔ valid");

    await rows().filter({ hasText: "timestamp_too_old" }).locator("button.open").click();
    await page.locator("#verdict-line", { hasText: "timestamp_too_old" }).waitFor();
    await page.getByRole("button", { name: "Replay re-signed" }).click();
    await rows().nth(4).waitFor();
    await page.locator("#captures tbody tr:first-child td", { hasText: "→ 200" }).waitFor();
    expect((await cellTexts(0))[4]).toBe("✔ valid");

    await rows().nth(0).locator("button.open").click();
    await page.locator("#forward-body", { hasText: "received" }).waitFor();
    expect(JSON.parse(await page.locator("#forward-body").innerText())).toEqual({ received: true });
    await rows().nth(1).locator("button.open").click();
    await page.locator("#forward-body", { hasText: "duplicate" }).waitFor();
    expect(JSON.parse(await page.locator("#forward-body").innerText())).toEqual({ received: true, duplicate: true });
  });

  it("filters by verdict and event type, and copies a curl command", async () => {
    await page.getByLabel("Verdict").selectOption("invalid");
    expect(await rows().count()).toBe(2);
    await page.getByLabel("Verdict").selectOption("");
    await page.getByLabel("Event type").selectOption("invoice.paid");
    expect(await rows().count()).toBe(5);
    await page.getByLabel("Event type").selectOption("");

    await rows().nth(0).locator("button.open").click();
    await page.getByRole("button", { name: "Copy as curl" }).click();
    const curl = page.getByLabel("curl command");
    await curl.waitFor();
    expect(await curl.inputValue()).toMatch(
      /^curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/webhooks .* --data-binary @\S+\.body$/,
    );

    await rows().filter({ hasText: "no_matching_signature" }).locator("button.open").click();
    await page.locator("#verdict-line", { hasText: "no_matching_signature" }).waitFor();
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, "inspector.png") });
  });
});
