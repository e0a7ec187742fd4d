// Runs the Hono adapter and the core on workerd (Miniflare), bundled the way Wrangler bundles a worker.
// Run with Node ≥ 22 after `pnpm build`, with HOOKLINE_RUNTIMES_DIR naming the folder where .ci/runtimes.sh
// installed Miniflare: node packages/hono/test/runtimes/workerd.mjs
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { generateKeyPair, github, hmac, stripe } from "@hookline/core";
import { signedDelivery } from "@hookline/testing";
import { wranglerBundle } from "../../../../.ci/wrangler.mjs";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
// esbuild is the workspace's; Miniflare (Node ≥ 22 only) is installed outside the workspace by runtimes.sh.
const { build } = await import("esbuild");
const runtimes = createRequire(`${process.env.HOOKLINE_RUNTIMES_DIR}/package.json`);
const { Miniflare } = runtimes("miniflare");

const bundle = await build({ ...wranglerBundle, entryPoints: [here("./worker.ts")] });
const script = bundle.outputFiles[0].text;
const mf = new Miniflare({ modules: true, script, compatibilityDate: "2026-07-01" });
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const post = (path, { headers, body }) =>
  mf.dispatchFetch(`http://localhost${path}`, { method: "POST", headers, body });
let checks = 0;
const check = async (name, run) => {
  await run();
  checks++;
  console.log(`  ✓ ${name}`);
};

try {
  console.log(`workerd (Miniflare ${runtimes("miniflare/package.json").version})`);
  const event = { type: "invoice.paid", data: { id: "in_1", amount: 1200 } };
  const delivery = await signedDelivery({ secret, event });
  await check("a valid delivery is processed", async () => {
    const answer = await post("/webhooks", delivery);
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { received: true });
  });
  await check("the same delivery again is a duplicate", async () => {
    assert.deepEqual(await (await post("/webhooks", delivery)).json(), { received: true, duplicate: true });
  });
  await check("a tampered body is refused", async () => {
    const tampered = { ...delivery, body: String(delivery.body).replace("1200", "9900") };
    const answer = await post("/webhooks", tampered);
    assert.equal(answer.status, 401);
    assert.equal((await answer.json()).error.code, "no_matching_signature");
  });
  await check("a schema failure is a 400", async () => {
    const bad = await signedDelivery({ secret, event: { type: "invoice.paid", data: { id: 1 } } });
    assert.equal((await post("/webhooks", bad)).status, 400);
  });
  for (const [name, scheme, key] of [
    ["stripe", stripe(), secret],
    ["github", github(), "It's a Secret to Everybody"],
    ["hmac", hmac({ header: "x-signature" }), "a-shared-secret"],
  ]) {
    await check(`the ${name} scheme verifies`, async () => {
      const signed = await signedDelivery({ scheme, secret: key, payload: '{"ok":true}' });
      const answer = await post(`/verify/${name}`, { ...signed, headers: { ...signed.headers, "x-test-secret": key } });
      assert.equal((await answer.json()).ok, true);
    });
  }
  await check("Standard Webhooks v1a (Ed25519) verifies", async () => {
    const pair = await generateKeyPair();
    const signed = await signedDelivery({ secret: pair.secretKey, payload: '{"ok":true}' });
    const answer = await post("/verify/standard", {
      ...signed,
      headers: { ...signed.headers, "x-test-secret": pair.publicKey },
    });
    assert.equal((await answer.json()).ok, true);
  });
  const report = await (await mf.dispatchFetch("http://localhost/report")).json();
  assert.deepEqual(report.handled, ["in_1"]);
  console.log(`runtime: workerd, crypto backend: ${report.cryptoBackend}, bundle ${script.length} bytes minified`);
  console.log(`workerd: ${checks} passed, 0 failed`);
} finally {
  await mf.dispose();
}
