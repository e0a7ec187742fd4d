// A CommonJS caller: the packages ship ES modules only, and require() loads them on Node ≥ 20.19 / 22.12, Bun and
// Deno (require(esm)). Run by .ci/runtimes.sh on every runtime; exits non-zero when a require or a check fails.
const assert = require("node:assert/strict");
const { cryptoBackend, sign, verify, createReceiver } = require("@hookline/core");
const { webhookHandler } = require("@hookline/hono");

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const payload = '{"type":"invoice.paid","data":{"id":"in_1"}}';

(async () => {
  const headers = await sign({ secret, payload, id: "msg_require" });
  const verified = await verify({ secret, payload, headers });
  assert.equal(verified.id, "msg_require");
  await assert.rejects(verify({ secret, payload: `${payload} `, headers }), { code: "no_matching_signature" });
  assert.equal(typeof createReceiver, "function");
  assert.equal(typeof webhookHandler, "function");
  console.log(`require(esm): @hookline/core and @hookline/hono load from CommonJS (crypto backend: ${cryptoBackend})`);
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
