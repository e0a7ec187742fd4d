// Verify of one signed webhook: Hookline (node:crypto and WebCrypto backends) against the bare crypto floors and
// the other libraries, each on the same message for its own wire format.
import { createHmac, timingSafeEqual } from "node:crypto";
import { register } from "node:module";
import * as hookline from "@hookline/core";
import { verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { Webhook as SvixWebhook } from "svix";
import { formatNs, formatRatio, installedVersion, measureCases, pairedRatio, table } from "../lib/harness.mjs";
import { jsonBody } from "../lib/payload.mjs";

// The same dist once more, its `#backend` resolved with the `hookline-webcrypto` condition (lib/webcrypto-condition.mjs).
register("../lib/webcrypto-condition.mjs", import.meta.url);
const web = await import(`${import.meta.resolve("@hookline/core")}?hookline-webcrypto`);

// The package's exports only offer the web build under the "browser" condition; load that file next to the node one.
const octokitWeb = await import(new URL("../dist-web/index.js", import.meta.resolve("@octokit/webhooks-methods")).href);

export const SIZES = [1024, 64 * 1024];

/** Headers a Node server would see besides the signature ones (`IncomingHttpHeaders`: lower-case names). */
const BASE_HEADERS = {
  host: "api.example.com",
  "user-agent": "Webhook-Sender/1.0",
  "content-type": "application/json",
  accept: "*/*",
  "accept-encoding": "gzip",
  "x-forwarded-for": "203.0.113.7",
  "x-forwarded-proto": "https",
};

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // Standard Webhooks / svix: base64 key after whsec_
const STRIPE_SECRET = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc"; // Stripe: the whole string is the key
const GITHUB_SECRET = "It's a Secret to Everybody";

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Passes when the call throws or returns false. */
async function rejects(call, what) {
  let accepted;
  try {
    accepted = (await call()) !== false;
  } catch {
    accepted = false;
  }
  assert(!accepted, `${what} accepted a tampered payload`);
}

const tamper = (body) => `${body.slice(0, -2)}x}`;

/** Signs one body for every wire format and builds the cases over it. */
async function buildCases(size) {
  assert(hookline.cryptoBackend === "node", `@hookline/core resolved the ${hookline.cryptoBackend} backend, not node`);
  assert(
    web.cryptoBackend === "webcrypto",
    `@hookline/core with the hookline-webcrypto condition resolved the ${web.cryptoBackend} backend`,
  );

  const payload = jsonBody(size);
  const tampered = tamper(payload);
  const nowMs = Date.now();
  const timestamp = Math.floor(nowMs / 1000);
  const id = "msg_2tTp6bKJ4sVwXmZc8Nq1Ld9Ry";

  const sw = await hookline.sign({ secret: SECRET, payload, id, timestamp });
  const swHeaders = { ...BASE_HEADERS, "content-length": String(size), ...sw };
  const svixHeaders = {
    ...BASE_HEADERS,
    "content-length": String(size),
    ...(await hookline.sign({
      scheme: hookline.standardWebhooks({ headerPrefix: "svix" }),
      secret: SECRET,
      payload,
      id,
      timestamp,
    })),
  };
  const stripeHeader = (await hookline.sign({ scheme: hookline.stripe(), secret: STRIPE_SECRET, payload, timestamp }))[
    "stripe-signature"
  ];
  const githubSignature = (await hookline.sign({ scheme: hookline.github(), secret: GITHUB_SECRET, payload, id }))[
    "x-hub-signature-256"
  ];

  // The floors get the three values already pulled out of the headers, and a key decoded once.
  const ts = sw["webhook-timestamp"];
  const signature = sw["webhook-signature"].slice("v1,".length);
  const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const encoder = new TextEncoder();

  const nodeFloor = (body) => {
    const expected = createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest();
    const received = Buffer.from(signature, "base64");
    return received.length === expected.length && timingSafeEqual(received, expected);
  };
  const subtleFloor = (body) =>
    crypto.subtle.verify("HMAC", cryptoKey, Buffer.from(signature, "base64"), encoder.encode(`${id}.${ts}.${body}`));

  const standard = new StandardWebhook(SECRET);
  const svix = new SvixWebhook(SECRET);
  const stripe = new Stripe("sk_test_x");
  const stripeSubtle = Stripe.createSubtleCryptoProvider();

  const hooklineCheck = (module) => async (body) => {
    const result = await module.verify({ secret: SECRET, payload: body, headers: swHeaders, now: nowMs });
    assert(result.payload === body && result.id === id && result.timestamp === timestamp, "unexpected result");
    return true;
  };
  const parsedCheck = (call) => async (body) => {
    const event = await call(body);
    assert(event?.type === "invoice.paid", "did not return the parsed event");
    return true;
  };
  const trueCheck = (call) => async (body) => {
    assert((await call(body)) === true, "returned false");
    return true;
  };

  // `fn` is the timed op; `check` runs the same call over a given body and throws unless it verified.
  const cases = [
    {
      key: "hookline-node",
      name: "hookline verify (node backend)",
      fn: () => hookline.verify({ secret: SECRET, payload, headers: swHeaders, now: nowMs }),
      check: hooklineCheck(hookline),
    },
    {
      key: "hookline-node-parse",
      name: "hookline node + JSON.parse",
      info: true,
      fn: async () =>
        JSON.parse((await hookline.verify({ secret: SECRET, payload, headers: swHeaders, now: nowMs })).payload),
      check: parsedCheck(async (body) =>
        JSON.parse((await hookline.verify({ secret: SECRET, payload: body, headers: swHeaders, now: nowMs })).payload),
      ),
    },
    {
      key: "hookline-webcrypto",
      name: "hookline verify (webcrypto backend)",
      fn: () => web.verify({ secret: SECRET, payload, headers: swHeaders, now: nowMs }),
      check: hooklineCheck(web),
    },
    {
      key: "floor-node",
      name: "floor: node:crypto createHmac",
      fn: () => nodeFloor(payload),
      check: trueCheck(nodeFloor),
    },
    {
      key: "floor-subtle",
      name: "floor: cached-key subtle.verify",
      fn: () => subtleFloor(payload),
      check: trueCheck(subtleFloor),
    },
    {
      key: "standardwebhooks",
      name: "standardwebhooks 1.1.1",
      fn: () => standard.verify(payload, swHeaders),
      check: parsedCheck((body) => standard.verify(body, swHeaders)),
    },
    {
      key: "svix",
      name: "svix 1.99.1",
      fn: () => svix.verify(payload, svixHeaders),
      check: parsedCheck((body) => svix.verify(body, svixHeaders)),
    },
    {
      key: "stripe-sync",
      name: "stripe constructEvent",
      fn: () => stripe.webhooks.constructEvent(payload, stripeHeader, STRIPE_SECRET, 300, undefined, nowMs),
      check: parsedCheck((body) =>
        stripe.webhooks.constructEvent(body, stripeHeader, STRIPE_SECRET, 300, undefined, nowMs),
      ),
    },
    {
      key: "stripe-async",
      name: "stripe constructEventAsync",
      fn: () => stripe.webhooks.constructEventAsync(payload, stripeHeader, STRIPE_SECRET, 300, undefined, nowMs),
      check: parsedCheck((body) =>
        stripe.webhooks.constructEventAsync(body, stripeHeader, STRIPE_SECRET, 300, undefined, nowMs),
      ),
    },
    {
      key: "stripe-async-subtle",
      name: "stripe constructEventAsync (SubtleCryptoProvider)",
      info: true,
      fn: () => stripe.webhooks.constructEventAsync(payload, stripeHeader, STRIPE_SECRET, 300, stripeSubtle, nowMs),
      check: parsedCheck((body) =>
        stripe.webhooks.constructEventAsync(body, stripeHeader, STRIPE_SECRET, 300, stripeSubtle, nowMs),
      ),
    },
    {
      key: "octokit-node",
      name: "@octokit/webhooks-methods verify (node)",
      fn: () => octokitVerify(GITHUB_SECRET, payload, githubSignature),
      check: trueCheck((body) => octokitVerify(GITHUB_SECRET, body, githubSignature)),
    },
    {
      key: "octokit-web",
      name: "@octokit/webhooks-methods verify (web)",
      fn: () => octokitWeb.verify(GITHUB_SECRET, payload, githubSignature),
      check: trueCheck((body) => octokitWeb.verify(GITHUB_SECRET, body, githubSignature)),
    },
  ];

  for (const c of cases) {
    try {
      await c.check(payload);
      await rejects(() => c.check(tampered), c.name);
    } catch (error) {
      throw new Error(`${c.name} failed its check on the ${size}-byte message: ${error.message}`, { cause: error });
    }
    const check = c.check;
    c.check = () => check(payload);
  }
  return cases;
}

const GOALS = [
  {
    id: "node-vs-floor",
    text: "node backend ≤ 1.3× node:crypto floor",
    ratio: (r) => r("hookline-node", "floor-node"),
    pass: (r) => r <= 1.3,
    show: (r) => `${r.toFixed(2)}× the floor (≤ 1.30×)`,
  },
  {
    id: "node-vs-standardwebhooks",
    text: "node backend ≥ 4× faster than standardwebhooks",
    ratio: (r) => r("standardwebhooks", "hookline-node"),
    pass: (r) => r >= 4,
    show: (r) => `${r.toFixed(2)}× faster (≥ 4×)`,
  },
  {
    id: "node-vs-svix",
    text: "node backend ≥ 4× faster than svix",
    ratio: (r) => r("svix", "hookline-node"),
    pass: (r) => r >= 4,
    show: (r) => `${r.toFixed(2)}× faster (≥ 4×)`,
  },
  {
    id: "webcrypto-vs-subtle",
    text: "webcrypto backend ≤ 1.1× bare subtle.verify",
    ratio: (r) => r("hookline-webcrypto", "floor-subtle"),
    pass: (r) => r <= 1.1,
    show: (r) => `${r.toFixed(2)}× subtle.verify (≤ 1.10×)`,
  },
  {
    id: "webcrypto-vs-stripe-async",
    text: "webcrypto backend ≥ 2× faster than stripe constructEventAsync",
    ratio: (r) => r("stripe-async", "hookline-webcrypto"),
    pass: (r) => r >= 2,
    show: (r) => `${r.toFixed(2)}× faster (≥ 2×)`,
  },
  {
    id: "webcrypto-vs-octokit-web",
    text: "webcrypto backend ≥ 2× faster than octokit web",
    ratio: (r) => r("octokit-web", "hookline-webcrypto"),
    pass: (r) => r >= 2,
    show: (r) => `${r.toFixed(2)}× faster (≥ 2×)`,
  },
];

export const peerVersions = () =>
  Object.fromEntries(
    ["@hookline/core", "standardwebhooks", "svix", "stripe", "@octokit/webhooks-methods", "mitata"].map((name) => [
      name,
      installedVersion(name),
    ]),
  );

/** Context for the goals, printed and saved but never passed or missed. */
const CONTEXT = [
  {
    id: "node-parse-vs-standardwebhooks",
    text: "node backend + JSON.parse vs standardwebhooks (which parses)",
    ratio: (r) => r("standardwebhooks", "hookline-node-parse"),
  },
  {
    id: "webcrypto-vs-stripe-async-subtle",
    text: "webcrypto backend vs stripe constructEventAsync on its SubtleCryptoProvider",
    ratio: (r) => r("stripe-async-subtle", "hookline-webcrypto"),
  },
  {
    id: "subtle-floor-vs-stripe-async",
    text: "bare subtle.verify vs stripe constructEventAsync (node:crypto provider)",
    ratio: (r) => r("stripe-async", "floor-subtle"),
  },
  {
    id: "subtle-floor-vs-octokit-web",
    text: "bare subtle.verify vs octokit web",
    ratio: (r) => r("octokit-web", "floor-subtle"),
  },
];

const sizeLabel = (size) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);

/**
 * Runs the suite and returns its JSON section. Throws when a case fails to verify.
 * @param {{ rounds: number, timeMs: number, warmupMs: number, batch: number, log: (line: string) => void }} options
 */
export async function run(options) {
  const { log } = options;
  const sizes = [];
  for (const size of SIZES) {
    log(`\nverify, ${sizeLabel(size)} Standard Webhooks message`);
    // Signed fresh for each size: standardwebhooks and svix check the timestamp against Date.now().
    const cases = await buildCases(size);
    const stats = await measureCases(cases, { ...options, log });
    // Sanity: every case still verifies after all the timing (nothing expired or went stale mid-run).
    for (const c of cases) await c.check();

    const ratio = (a, b) => pairedRatio(stats.get(a), stats.get(b));
    const isWeb = (key) => key === "hookline-webcrypto" || key === "octokit-web" || key === "stripe-async-subtle";

    const rows = [["case", "p50/op", "p75", "p99", "× node floor", "× subtle", "rounds ±"]];
    const caseResults = {};
    for (const c of cases) {
      const s = stats.get(c.key);
      const vsNode = ratio(c.key, "floor-node");
      const vsSubtle = isWeb(c.key) || c.key === "floor-subtle" ? ratio(c.key, "floor-subtle") : undefined;
      rows.push([
        c.info ? `${c.name} (info)` : c.name,
        formatNs(s.p50),
        formatNs(s.p75),
        formatNs(s.p99),
        formatRatio(vsNode),
        vsSubtle === undefined ? "" : formatRatio(vsSubtle),
        `${(s.spread * 100).toFixed(0)}%`,
      ]);
      caseResults[c.key] = {
        name: c.name,
        informational: c.info === true,
        medianNs: round(s.p50),
        p75Ns: round(s.p75),
        p99Ns: round(s.p99),
        minNs: round(s.min),
        ratioToNodeFloor: round(vsNode, 3),
        ...(vsSubtle === undefined ? {} : { ratioToSubtleVerify: round(vsSubtle, 3) }),
        ops: s.ops,
        roundMediansNs: s.roundMedians.map((v) => round(v)),
      };
    }
    log(`\n${table(rows)}`);

    const goals = GOALS.map((goal) => {
      const value = goal.ratio(ratio);
      return { id: goal.id, goal: goal.text, ratio: round(value, 3), pass: goal.pass(value), shown: goal.show(value) };
    });
    const context = CONTEXT.map((c) => ({ id: c.id, text: c.text, fasterBy: round(c.ratio(ratio), 3) }));
    log("");
    for (const g of goals) log(`  ${g.pass ? "PASS" : "MISS"}  ${g.goal}: ${g.shown}`);
    for (const c of context) log(`  info  ${c.text}: ${c.fasterBy.toFixed(2)}× faster`);
    sizes.push({
      size,
      label: sizeLabel(size),
      cases: caseResults,
      goals: goals.map(({ shown, ...g }) => g),
      context,
    });
  }
  return { sizes };
}

function round(value, digits = 1) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
