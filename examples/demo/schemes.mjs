// `pnpm demo`: signs one event with every scheme Hookline ships, verifies it, then shows what a tampered body,
// a replayed (stale) message and a rotated secret do.
import { generateKeyPair, generateSecret, github, hmac, sign, standardWebhooks, stripe, verify } from "@hookline/core";

const payload = JSON.stringify({ type: "invoice.paid", data: { id: "in_1", amount: 1250, note: "Zoë 🎉" } });
const keys = await generateKeyPair();
const cases = [
  { label: "Standard Webhooks v1 (HMAC)", scheme: standardWebhooks(), secret: generateSecret() },
  {
    label: "Standard Webhooks v1a (Ed25519)",
    scheme: standardWebhooks(),
    secret: keys.secretKey,
    verifyWith: keys.publicKey,
  },
  { label: "Stripe", scheme: stripe(), secret: "whsec_demo_stripe_secret" },
  { label: "GitHub", scheme: github(), secret: "github-demo-secret" },
  {
    label: "HMAC (Shopify style)",
    scheme: hmac({ header: "x-shopify-hmac-sha256", encoding: "base64" }),
    secret: "shpss_demo",
  },
];

let failures = 0;
const expect = (ok, line) => {
  if (!ok) failures++;
  console.log(`${ok ? "✔" : "✘"} ${line}`);
};
const reason = (promise) =>
  promise.then(
    () => "accepted",
    (error) => error.code ?? String(error),
  );

for (const { label, scheme, secret, verifyWith = secret } of cases) {
  const headers = await sign({ scheme, secret, payload });
  const shown = Object.entries(headers).map(
    ([name, value]) => `${name}: ${value.length > 60 ? `${value.slice(0, 57)}…` : value}`,
  );
  console.log(`\n${label}\n  ${shown.join("\n  ")}`);
  const verified = await verify({ scheme, secret: verifyWith, payload, headers });
  expect(verified.payload === payload, `verifies (id ${verified.id ?? "—"}, timestamp ${verified.timestamp ?? "—"})`);
  const tampered = await reason(
    verify({ scheme, secret: verifyWith, payload: payload.replace("1250", "9999"), headers }),
  );
  expect(tampered === "no_matching_signature", `tampered body → ${tampered}`);
}

const secret = generateSecret();
const stale = await sign({ secret, payload, timestamp: Math.floor(Date.now() / 1000) - 3600 });
const staleResult = await reason(verify({ secret, payload, headers: stale }));
console.log("\nReplay and rotation");
expect(staleResult === "timestamp_too_old", `message signed an hour ago → ${staleResult}`);

const next = generateSecret();
const rotated = await sign({ secret: [next, secret], payload });
const rotation = await Promise.all([
  reason(verify({ secret, payload, headers: rotated })),
  reason(verify({ secret: next, payload, headers: rotated })),
]);
expect(
  rotation.every((r) => r === "accepted"),
  `signed with [new, old] secrets → old: ${rotation[0]}, new: ${rotation[1]}`,
);

console.log(failures === 0 ? "\nAll demo checks passed." : `\n${failures} demo check(s) failed.`);
process.exit(failures === 0 ? 0 : 1);
